"""DICOM SEG export of a segmentation node over the DICOM series its volume was loaded from.

What the module's "Export DICOM SEG" does, headless: the segments with a known meaning
(Myocardium, Blood pool, Scar, Core scar, Gray zone, No-reflow) are read on the volume's own
voxel grid (through its reference geometry: a hand-edited segmentation or one under another
transform is resampled) and written with io/dicom_seg.py, which places each frame on the source
instance at the same patient position. The volume's own IJK -> RAS (no parent transform) is
the patient geometry of the series: a transform the user applied in Slicer does not move the
segmentation away from the images in the DICOM SEG.

Slicer's DICOM loader records the series' instances on the volume node (attribute
"DICOM.instanceUIDs", space separated); the caller gives the function that finds the file of an
instance (slicer.dicomDatabase.fileForInstance in Slicer).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import slicer
from ScarQuantificationLib.mrml_volumes import LPS_TO_RAS, ijk_to_ras

from .io.dicom_seg import DicomSegError, segment_names, write_dicom_seg
from .mrml_segments import masks_from_segmentation_node

INSTANCE_UIDS_ATTRIBUTE = "DICOM.instanceUIDs"


def source_files_of_volume(
    volume_node: slicer.vtkMRMLVolumeNode, file_for_instance: Callable[[str], str] | None
) -> list[Path]:
    """The DICOM files the volume was loaded from. DicomSegError if it was not loaded from a
    DICOM series or a file is no longer in the DICOM database."""
    label = volume_node.GetName() if volume_node is not None else "volume"
    uids = (volume_node.GetAttribute(INSTANCE_UIDS_ATTRIBUTE) or "").split() if volume_node else []
    if not uids:
        raise DicomSegError(
            f"{label!r} was not loaded from a DICOM series (no {INSTANCE_UIDS_ATTRIBUTE}); a DICOM "
            "SEG refers to the source images: load the series with the DICOM module"
        )
    if file_for_instance is None:
        raise DicomSegError("no DICOM database to find the source images in")
    files = []
    for uid in uids:
        name = file_for_instance(uid)
        if not name or not Path(name).is_file():
            raise DicomSegError(f"the source image {uid} of {label!r} is not in the DICOM database")
        files.append(Path(name))
    return files


def index_to_lps(volume_node: slicer.vtkMRMLVolumeNode) -> np.ndarray:
    """The volume's own (untransformed) 4x4 IJK -> LPS matrix."""
    ras_to_lps = np.eye(4)
    ras_to_lps[:3, :3] = LPS_TO_RAS  # its own inverse
    return ras_to_lps @ ijk_to_ras(volume_node)


def export_dicom_seg(
    segmentation_node: slicer.vtkMRMLSegmentationNode,
    volume_node: slicer.vtkMRMLVolumeNode,
    path: Path | str,
    source_files: list[Path],
) -> Path:
    """Write the DICOM SEG of the segmentation over the volume's source series to `path`."""
    masks = masks_from_segmentation_node(segmentation_node, volume_node)
    if not segment_names(masks):
        raise DicomSegError(
            f"segmentation {segmentation_node.GetName()!r} has none of the segments a DICOM SEG "
            "is written for (Myocardium, Blood pool, Scar, Core scar, Gray zone, No-reflow)"
        )
    return write_dicom_seg(masks, index_to_lps(volume_node), source_files, path)
