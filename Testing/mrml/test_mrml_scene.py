"""new_scene logics and explicit subject hierarchy items."""

from __future__ import annotations

import slicer
from ScarSegmentationLib.mrml_scene import place_in_subject_hierarchy, scene_logic


def test_new_scene_has_logics_and_subject_hierarchy(scene):
    for module in (
        "Application",
        "Colors",
        "Volumes",
        "Segmentations",
        "Tables",
        "SubjectHierarchy",
    ):
        logic = scene_logic(scene, module)
        assert logic.GetMRMLScene() is scene, module
    assert scene.GetSubjectHierarchyNode() is not None
    # The colour logic adds the built-in tables volumes need for their default display.
    assert scene.GetNodeByID("vtkMRMLColorTableNodeGrey") is not None


def test_subject_hierarchy_parent_chain(scene):
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "lge")
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", "measurements")
    sh = scene.GetSubjectHierarchyNode()
    assert sh.GetItemByDataNode(volume) == sh.GetInvalidItemID()  # nothing automatic headless

    patient, study = place_in_subject_hierarchy(scene, "Patient 1", "LGE study", [volume, table])
    for node in (volume, table):
        item = sh.GetItemByDataNode(node)
        assert sh.GetItemParent(item) == study
    assert sh.GetItemParent(study) == patient
    assert sh.GetItemParent(patient) == sh.GetSceneItemID()
    constants = slicer.vtkMRMLSubjectHierarchyConstants
    assert sh.GetItemLevel(patient) == constants.GetDICOMLevelPatient()
    assert sh.GetItemLevel(study) == constants.GetDICOMLevelStudy()
    assert sh.GetItemName(patient) == "Patient 1" and sh.GetItemName(study) == "LGE study"

    # A second call reuses the tree and moves nodes already in it.
    other = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "map")
    again = place_in_subject_hierarchy(scene, "Patient 1", "LGE study", [other, volume])
    assert again == (patient, study)
    assert sh.GetItemParent(sh.GetItemByDataNode(other)) == study
    second = place_in_subject_hierarchy(scene, "Patient 1", "Follow-up", [other])
    assert second[0] == patient and second[1] != study
    assert sh.GetItemParent(sh.GetItemByDataNode(other)) == second[1]
