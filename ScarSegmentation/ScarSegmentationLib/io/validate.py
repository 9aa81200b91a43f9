"""Checks that a study can be used, raising InputError with a message that names the problem.

Called by load_study before anything else runs, so a bad input fails before any output exists.

Policy on single slices: a 3D volume with ONE slice is accepted (some centres acquire single
LGE slices; every stage works slice by slice) and gets a note in study.metadata["warning"],
because volumes then rest on the slice thickness alone. A 2D image is refused: it has no slice
thickness, so no volume or mass could be computed from it.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..study import Study

MAX_IN_PLANE_MM = (
    50.0  # beyond this a "pixel" is not an MRI pixel (e.g. spacing in cm or wrong unit)
)
MIN_IN_PLANE_MM = 0.05  # below this the spacing is probably in metres
MAX_SLICE_MM = 100.0  # LGE slice spacing is 5-25 mm; 100 mm leaves room for sparse stacks
MIN_IN_PLANE_PIXELS = 16  # smaller is a thumbnail or a misread dimension, not an MR slice


def validate_image_shape(shape: tuple[int, ...], components: int = 1, where: str = "") -> None:
    """Refuse 2D, 4D+, vector/RGB and empty images. shape is numpy order (k, j, i) or (t, k, j, i)."""
    at = f" ({where})" if where else ""
    if components > 1:
        raise InputError(
            f"vector/RGB image with {components} components per pixel{at}: "
            "give a greyscale LGE image (one value per voxel)"
        )
    if len(shape) == 2:
        raise InputError(
            f"2D image ({shape[1]} x {shape[0]} pixels){at}: it has no slice thickness; "
            "give a 3D stack of short-axis slices"
        )
    if len(shape) == 4:
        raise InputError(
            f"4D image with {shape[0]} time frames{at}; give one 3D LGE stack "
            "(a cine or perfusion series is not an LGE image)"
        )
    if len(shape) != 3:
        raise InputError(f"{len(shape)}D image{at}: give a 3D stack of short-axis LGE slices")
    if min(shape) == 0:
        raise InputError(f"empty image (size {'x'.join(map(str, shape[::-1]))}){at}")


def validate_spacing(spacing: object, where: str = "") -> tuple[float, float, float]:
    """Spacing (i, j, k) in mm: present, finite, positive and plausible for cardiac MRI."""
    at = f" ({where})" if where else ""
    try:
        values = tuple(float(s) for s in spacing)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"missing voxel spacing{at}: the image has no usable spacing") from None
    if len(values) != 3:
        raise InputError(f"missing voxel spacing{at}: expected 3 values (mm), got {len(values)}")
    if not all(np.isfinite(values)) or min(values) <= 0:
        raise InputError(
            f"missing, zero or negative voxel spacing {values}{at}: volumes and masses need it"
        )
    if max(values[:2]) > MAX_IN_PLANE_MM or min(values[:2]) < MIN_IN_PLANE_MM:
        raise InputError(
            f"absurd in-plane spacing {values[0]:g} x {values[1]:g} mm{at}: "
            f"expected {MIN_IN_PLANE_MM:g}-{MAX_IN_PLANE_MM:g} mm (check the unit in the header)"
        )
    if values[2] > MAX_SLICE_MM:
        raise InputError(
            f"absurd slice spacing {values[2]:g} mm{at}: expected at most {MAX_SLICE_MM:g} mm"
        )
    return values  # type: ignore[return-value]


def validate_study(study: Study) -> None:
    """Raise InputError naming the first problem found; add a warning note for a single slice."""
    where = study.source or study.name
    image = np.asarray(study.image)
    validate_image_shape(image.shape, where=where)
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise InputError(
            f"unsupported pixel type {image.dtype} ({where}): give real-valued intensities"
        )
    if min(image.shape[1:]) < MIN_IN_PLANE_PIXELS:
        raise InputError(
            f"slices of only {image.shape[2]} x {image.shape[1]} pixels ({where}): "
            "too small for an MR slice (are the axes in the right order?)"
        )
    finite = np.isfinite(image)
    if not finite.all():
        bad = int(image.size - np.count_nonzero(finite))
        raise InputError(f"{bad} voxels are NaN or infinite ({where}): the image is corrupt")
    lo, hi = float(image.min()), float(image.max())
    if lo == hi:
        raise InputError(f"constant image: every voxel is {lo:g} ({where}); nothing to segment")
    validate_spacing(study.spacing, where)
    _validate_geometry(study, where)
    if image.shape[0] == 1:
        study.metadata["warning"] = (
            "single slice: measurements are per slice; volumes use the slice thickness "
            f"({float(study.spacing[2]):g} mm)"
        )


def _validate_geometry(study: Study, where: str) -> None:
    origin = np.asarray(study.origin, dtype=float)
    direction = np.asarray(study.direction, dtype=float)
    if origin.shape != (3,) or not np.isfinite(origin).all():
        raise InputError(f"invalid image origin {study.origin} ({where})")
    if direction.shape != (3, 3) or not np.isfinite(direction).all():
        raise InputError(f"invalid image direction ({where})")
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-3):
        raise InputError(f"image direction is not orthonormal ({where}): the geometry is corrupt")
