"""Storage-node writers and the .mrb bundle: files reload into fresh scenes unchanged."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
import slicer
from ScarQuantificationLib.mrml_tables import table_from_table_node, table_node_from_table
from ScarQuantificationLib.segments import SEGMENT_COLORS
from ScarQuantificationLib.table import Column, Table
from ScarSegmentationLib.mrml_io import (
    StorageError,
    read_mrb,
    write_mrb,
    write_segmentation,
    write_volume,
)
from ScarSegmentationLib.mrml_scene import place_in_subject_hierarchy
from ScarSegmentationLib.mrml_segments import (
    masks_from_segmentation_node,
    segmentation_node_from_masks,
)
from ScarSegmentationLib.mrml_volumes import (
    scalar_map_node,
    study_from_volume_node,
    volume_node_from_study,
)


def _measurements() -> Table:
    table = Table(
        "measurements",
        [
            Column("Study", "string", "", "study name"),
            Column("Slices", "int", "", "number of slices"),
            Column("Scar volume", "double", "mL", "enhanced myocardium"),
            Column("Has no-reflow", "bit"),
        ],
    )
    table.add_row(Study="annulus", Slices=6, **{"Scar volume": 3.25, "Has no-reflow": False})
    return table


def _assert_same_study(got, want, atol=1e-9):
    np.testing.assert_array_equal(got.image, want.image)
    np.testing.assert_allclose(got.spacing, want.spacing, rtol=0, atol=atol)
    np.testing.assert_allclose(got.origin, want.origin, rtol=0, atol=atol)
    np.testing.assert_allclose(got.direction, want.direction, rtol=0, atol=atol)


def test_segmentation_file_reloads_with_names_colours_and_voxels(scene, study, masks, tmp_path):
    volume = volume_node_from_study(scene, study)
    node = segmentation_node_from_masks(scene, masks, volume, "seg")
    path = write_segmentation(node, tmp_path / "segmentation.seg.nrrd")

    fresh = slicer.vtkMRMLScene()
    loaded = fresh.AddNewNodeByClass("vtkMRMLSegmentationNode")
    storage = fresh.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(path))
    assert storage.ReadData(loaded)
    segmentation = loaded.GetSegmentation()
    names = [
        segmentation.GetNthSegment(n).GetName() for n in range(segmentation.GetNumberOfSegments())
    ]
    assert names == list(masks)  # masks fixture is already in SEGMENT_NAMES order
    for n in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(n)
        assert segment.GetColor() == pytest.approx(SEGMENT_COLORS[segment.GetName()], abs=1e-4)
    back = masks_from_segmentation_node(loaded, volume)
    for name, mask in masks.items():
        np.testing.assert_array_equal(back[name], mask, err_msg=name)


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz"])
def test_volume_file_reloads_with_geometry(scene, study, tmp_path, suffix):
    path = write_volume(volume_node_from_study(scene, study), tmp_path / f"lge{suffix}")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary folders left
    fresh = slicer.vtkMRMLScene()
    loaded = fresh.AddNewNodeByClass("vtkMRMLScalarVolumeNode")
    storage = fresh.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(path))
    assert storage.ReadData(loaded)
    _assert_same_study(study_from_volume_node(loaded), study, atol=1e-5)


def test_writers_raise_when_the_storage_node_fails(scene, study, tmp_path):
    volume = volume_node_from_study(scene, study)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(StorageError, match="not_a_folder"):
        write_volume(volume, blocker / "sub" / "lge.nrrd")
    # An unsupported extension is reported by the storage node itself; nothing is left behind.
    with pytest.raises(StorageError, match="could not write"):
        write_volume(volume, tmp_path / "lge.unknownformat")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]
    with pytest.raises(ValueError):
        write_segmentation(segmentation_node_from_masks(scene, {}, volume), tmp_path / "seg.nrrd")


def test_mrb_reloads_volume_segmentation_tables_and_hierarchy(scene, study, masks, tmp_path):
    volume = volume_node_from_study(scene, study, "annulus")
    seg = segmentation_node_from_masks(scene, masks, volume, "annulus segmentation")
    table = table_node_from_table(scene, _measurements())
    prob = scalar_map_node(scene, masks["Myocardium"].astype(np.float32) * 0.9, volume, "prob")
    place_in_subject_hierarchy(scene, "Patient A", "LGE", [volume, seg, table, prob])
    path = write_mrb(scene, tmp_path / "scene.mrb")
    assert zipfile.is_zipfile(path)

    loaded = read_mrb(path)
    volume2 = loaded.GetFirstNodeByName("annulus")
    seg2 = loaded.GetFirstNodeByName("annulus segmentation")
    table2 = loaded.GetFirstNodeByName("measurements")
    assert volume2.IsA("vtkMRMLScalarVolumeNode")
    assert seg2.IsA("vtkMRMLSegmentationNode") and table2.IsA("vtkMRMLTableNode")
    _assert_same_study(study_from_volume_node(volume2), study)
    back = masks_from_segmentation_node(seg2, volume2)
    assert list(back) == list(masks)
    for name, mask in masks.items():
        np.testing.assert_array_equal(back[name], mask, err_msg=name)
    got = table_from_table_node(table2)
    want = _measurements()
    assert [(c.name, c.type, c.unit, c.description) for c in got.columns] == [
        (c.name, c.type, c.unit, c.description) for c in want.columns
    ]
    assert got.rows == want.rows

    sh = loaded.GetSubjectHierarchyNode()
    study_item = sh.GetItemParent(sh.GetItemByDataNode(seg2))
    patient_item = sh.GetItemParent(study_item)
    assert sh.GetItemName(study_item) == "LGE" and sh.GetItemName(patient_item) == "Patient A"
    assert sh.GetItemParent(sh.GetItemByDataNode(table2)) == study_item


def test_mrb_refuses_a_table_tsv_would_corrupt(scene, tmp_path):
    table = Table("t", [Column("Name", "string")])
    table.add_row(Name=None)
    table_node_from_table(scene, table)
    with pytest.raises(StorageError, match="first column"):
        write_mrb(scene, tmp_path / "scene.mrb")
    assert not (tmp_path / "scene.mrb").exists()


def test_read_mrb_reports_a_bad_file(tmp_path):
    bad = tmp_path / "bad.mrb"
    bad.write_text("not a zip")
    cwd = os.getcwd()
    with pytest.raises(StorageError):
        read_mrb(bad)
    assert os.getcwd() == cwd  # the failed read must not leave us in a deleted folder
    with pytest.raises(StorageError, match="does not exist"):
        read_mrb(tmp_path / "missing.mrb")
