"""Volume nodes <-> Study: voxels and geometry survive, bad inputs are refused."""

from __future__ import annotations

import numpy as np
import pytest
import vtk
from ScarSegmentationLib.errors import InputError
from ScarSegmentationLib.mrml_volumes import (
    array_from_volume_node,
    ijk_to_ras,
    scalar_map_node,
    study_from_volume_node,
    volume_node_from_study,
)


def test_study_round_trip_is_exact(scene, study):
    node = volume_node_from_study(scene, study, "lge")
    back = study_from_volume_node(node)
    assert back.image.dtype == np.float32
    np.testing.assert_array_equal(back.image, study.image)
    assert back.spacing == study.spacing
    assert back.origin == study.origin
    np.testing.assert_array_equal(back.direction, study.direction)
    assert node.GetName() == "lge" and back.name == "lge"


def test_world_position_of_a_voxel_is_lps_flipped(scene, study):
    """Independent check of the LPS -> RAS conversion through the node's own matrix."""
    node = volume_node_from_study(scene, study)
    ijk = np.array([5.0, 17.0, 3.0, 1.0])
    lps = study.index_to_lps() @ ijk
    ras = ijk_to_ras(node) @ ijk
    np.testing.assert_allclose(ras[:3], [-lps[0], -lps[1], lps[2]], atol=1e-9)
    # Voxel (k, j, i) of the array is voxel (i, j, k) of the node.
    assert array_from_volume_node(node)[3, 17, 5] == study.image[3, 17, 5]


def test_linear_parent_transform_is_applied(scene, study):
    node = volume_node_from_study(scene, study)
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    shift = vtk.vtkMatrix4x4()
    shift.SetElement(0, 3, 10.0)  # 10 mm towards R = -10 mm in L
    transform.SetMatrixTransformToParent(shift)
    node.SetAndObserveTransformNodeID(transform.GetID())
    back = study_from_volume_node(node)
    np.testing.assert_allclose(back.origin, np.add(study.origin, (-10.0, 0.0, 0.0)), atol=1e-9)
    np.testing.assert_allclose(back.direction, study.direction, atol=1e-12)
    np.testing.assert_allclose(back.spacing, study.spacing, atol=1e-12)


def test_scalar_map_shares_the_reference_geometry(scene, study):
    node = volume_node_from_study(scene, study)
    prob = np.random.default_rng(0).random(study.image.shape).astype(np.float64)
    map_node = scalar_map_node(scene, prob, node, "Myocardium probability")
    np.testing.assert_array_equal(ijk_to_ras(map_node), ijk_to_ras(node))
    values = array_from_volume_node(map_node)
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, prob, rtol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        scalar_map_node(scene, prob[:-1], node, "wrong")


def _volume(scene, class_name, dims, components=1):
    node = scene.AddNewNodeByClass(class_name, "bad")
    image = vtk.vtkImageData()
    image.SetDimensions(*dims)
    image.AllocateScalars(vtk.VTK_FLOAT, components)
    image.GetPointData().GetScalars().Fill(0.0)
    node.SetAndObserveImageData(image)
    return node


@pytest.mark.parametrize(
    ("class_name", "dims", "components", "message"),
    [
        ("vtkMRMLLabelMapVolumeNode", (8, 8, 4), 1, "label map"),
        ("vtkMRMLVectorVolumeNode", (8, 8, 4), 3, "vector"),
        ("vtkMRMLScalarVolumeNode", (8, 8, 4), 3, "components"),
        ("vtkMRMLScalarVolumeNode", (0, 0, 0), 1, "no voxels"),
        ("vtkMRMLScalarVolumeNode", (32, 32, 3), 1, "constant image"),  # io.validate_study
    ],
)
def test_unusable_volume_nodes_raise_input_error(scene, class_name, dims, components, message):
    node = _volume(scene, class_name, dims, components)
    with pytest.raises(InputError, match=message):
        study_from_volume_node(node)


def test_volume_without_image_and_non_volume_raise(scene):
    with pytest.raises(InputError, match="no voxels"):
        study_from_volume_node(scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty"))
    with pytest.raises(InputError, match="scalar volume"):
        study_from_volume_node(scene.AddNewNodeByClass("vtkMRMLTableNode", "table"))


def test_single_slice_is_accepted_with_a_warning_like_a_one_slice_file(scene, study):
    """A volume node is always 3D: one slice follows the file policy of io.validate_study."""
    one = study.image[2:3]
    node = volume_node_from_study(scene, type(study)(image=one, spacing=study.spacing))
    back = study_from_volume_node(node)
    assert back.num_slices == 1 and "single slice" in back.metadata["warning"]


def test_slices_are_ordered_apex_to_base_from_geometry(scene, study):
    """Same ordering as for files (io.order_slices): k pointing at the apex reverses the order."""
    towards_apex = np.diag([1.0, 1.0, -1.0]) @ study.direction  # stack normal ~ base -> apex
    study.direction = towards_apex
    back = study_from_volume_node(volume_node_from_study(scene, study))
    np.testing.assert_array_equal(back.apex_to_base, np.arange(study.num_slices)[::-1])
    assert back.slice_order_basis.startswith("geometry")

    study.direction = towards_apex @ np.diag([1.0, 1.0, -1.0])  # k now runs apex -> base
    back = study_from_volume_node(volume_node_from_study(scene, study))
    np.testing.assert_array_equal(back.apex_to_base, np.arange(study.num_slices))
    assert back.slice_order_basis.startswith("geometry")
