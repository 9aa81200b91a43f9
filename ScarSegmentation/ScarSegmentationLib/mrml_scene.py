"""A headless MRML scene on slicer-core, with the module logics that work without slicer.app.

What slicer-core provides here (checked on 5.13.31053.0): the application logic, colours (built-in
colour tables only: the wheel ships no colour files), volumes, segmentations, tables and subject
hierarchy logics all construct and attach to a scene. The terminologies logic constructs but has no
terminology files to load, so it is not created (segments carry name and colour, no terminology).
Subject hierarchy items are not created automatically headless: `place_with_volume` (results beside
their input volume, which is never moved) and `place_in_subject_hierarchy` (a named patient > study
tree, for scenes built from files) create them.
"""

from __future__ import annotations

from collections.abc import Iterable

import slicer
import vtk

# Logics created by new_scene, keyed by the module name Slicer uses for GetModuleLogic.
_LOGIC_CLASSES = {
    "Colors": "vtkMRMLColorLogic",  # base class: vtkSlicerColorLogic needs a Slicer home directory
    "Volumes": "vtkSlicerVolumesLogic",
    "Segmentations": "vtkSlicerSegmentationsModuleLogic",
    "Tables": "vtkSlicerTablesLogic",
    "SubjectHierarchy": "vtkSlicerSubjectHierarchyModuleLogic",
}

# Attribute of the scene's Python wrapper that keeps the logics alive as long as the scene is used.
_LOGICS_ATTR = "scarseg_logics"


def new_scene() -> slicer.vtkMRMLScene:
    """A scene with application, colours, volumes, segmentations, tables and subject hierarchy logics."""
    scene = slicer.vtkMRMLScene()
    app_logic = slicer.vtkSlicerApplicationLogic()
    app_logic.SetMRMLScene(scene)
    logics: dict[str, object] = {"Application": app_logic}
    for module, class_name in _LOGIC_CLASSES.items():
        logic = getattr(slicer, class_name)()
        logic.SetMRMLApplicationLogic(app_logic)
        logic.SetMRMLScene(scene)
        app_logic.SetModuleLogic(module, logic)
        logics[module] = logic
    setattr(scene, _LOGICS_ATTR, logics)
    if scene.GetSubjectHierarchyNode() is None:  # created on demand by the scene
        raise RuntimeError("slicer-core did not create the subject hierarchy node")
    return scene


def scene_logic(scene: slicer.vtkMRMLScene, module: str) -> object:
    """The logic new_scene attached for `module` ("Application", "Volumes", "Segmentations", ...)."""
    try:
        return getattr(scene, _LOGICS_ATTR)[module]
    except (AttributeError, KeyError) as exc:
        raise KeyError(f"scene was not built by new_scene or has no {module!r} logic") from exc


def place_in_subject_hierarchy(
    scene: slicer.vtkMRMLScene,
    patient_name: str,
    study_name: str,
    nodes: Iterable[slicer.vtkMRMLNode],
) -> tuple[int, int]:
    """Create (or reuse) patient > study items and put each node's item under the study.

    Returns (patient item ID, study item ID). Existing patient/study items with the same names
    are reused so that several calls build one tree.
    """
    sh = scene.GetSubjectHierarchyNode()
    scene_item = sh.GetSceneItemID()
    patient = _child_by_name(
        sh, scene_item, patient_name, slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMLevelPatient()
    )
    if patient == sh.GetInvalidItemID():
        patient = sh.CreateSubjectItem(scene_item, patient_name)
    study = _child_by_name(
        sh, patient, study_name, slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMLevelStudy()
    )
    if study == sh.GetInvalidItemID():
        study = sh.CreateStudyItem(patient, study_name)
    for node in nodes:
        item = sh.GetItemByDataNode(node)
        if item == sh.GetInvalidItemID():
            item = sh.CreateItem(study, node)
        else:
            sh.SetItemParent(item, study)
    return patient, study


def place_with_volume(
    scene: slicer.vtkMRMLScene,
    volume_node: slicer.vtkMRMLNode,
    nodes: Iterable[slicer.vtkMRMLNode],
) -> int:
    """Put the subject hierarchy items of `nodes` under the parent of the volume's item (its study
    when the volume came from DICOM, else wherever the user keeps it); returns that parent item.

    A node without an item, or with one at the scene level (where Slicer puts every new node), is
    placed; a node the user has put in some folder or study is left where it is. The volume
    itself is never moved. Headless, a volume without an item gets one at the scene level first
    (where Slicer puts a volume loaded from a file).
    """
    sh = scene.GetSubjectHierarchyNode()
    invalid = sh.GetInvalidItemID()
    volume_item = sh.GetItemByDataNode(volume_node)
    if volume_item == invalid:
        volume_item = sh.CreateItem(sh.GetSceneItemID(), volume_node)
    scene_item = sh.GetSceneItemID()
    parent = sh.GetItemParent(volume_item)
    if parent == invalid:
        parent = scene_item
    for node in nodes:
        if node is volume_node:
            continue
        item = sh.GetItemByDataNode(node)
        if item == invalid:
            sh.CreateItem(parent, node)
        elif sh.GetItemParent(item) == scene_item and parent != scene_item:
            sh.SetItemParent(item, parent)
    return parent


def _child_by_name(
    sh: slicer.vtkMRMLSubjectHierarchyNode, parent: int, name: str, level: str
) -> int:
    children = vtk.vtkIdList()
    sh.GetItemChildren(parent, children, False)
    for n in range(children.GetNumberOfIds()):
        item = children.GetId(n)
        if sh.GetItemName(item) == name and sh.GetItemLevel(item) == level:
            return item
    return sh.GetInvalidItemID()
