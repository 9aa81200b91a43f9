"""Segmentation nodes <-> masks: moved to ScarQuantificationLib.mrml_segments (both modules use it).

Re-exported here with this package's error type: a segmentation that cannot be read is an
InputError (the command line prints it as a user error).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import slicer
from ScarQuantificationLib import mrml_segments as _shared
from ScarQuantificationLib.mrml_segments import remove_segments, segmentation_node_from_masks

from .errors import InputError

__all__ = ["masks_from_segmentation_node", "remove_segments", "segmentation_node_from_masks"]


def masks_from_segmentation_node(
    node: slicer.vtkMRMLSegmentationNode,
    reference_volume_node: slicer.vtkMRMLVolumeNode,
    names: Iterable[str] | None = None,
) -> dict[str, np.ndarray]:
    """See ScarQuantificationLib.mrml_segments.masks_from_segmentation_node; raises InputError."""
    try:
        return _shared.masks_from_segmentation_node(node, reference_volume_node, names)
    except _shared.SegmentationError as exc:
        raise InputError(str(exc)) from exc
