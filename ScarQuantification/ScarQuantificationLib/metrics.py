"""Segmentation agreement metrics on boolean masks (2D slices or 3D stacks).

Conventions (also in docs/METRICS.md):
- Arrays are indexed (k, j, i) (3D) or (j, i) (2D); `spacing` is given in the project's (i, j, k)
  order (mm), i.e. reversed with respect to the array axes, as SimpleITK reports it.
- Empty vs empty (nothing predicted, nothing in the reference): perfect agreement, Dice = AS = PS = 1,
  Hausdorff = HD95 = 0 mm.
- Empty vs non-empty: Dice = AS = PS = 0; Hausdorff and HD95 are undefined and returned as NaN
  (a distance to an empty set does not exist); tables leave the cell empty.
- Balanced accuracy is the mean recall over the classes present in the reference inside the
  evaluation region (scikit-learn's convention): with no reference positives it equals the
  specificity. An empty evaluation region gives NaN, as does the Brier score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

TISSUE_DENSITY_G_PER_ML = 1.05  # myocardium density used for every mass


def _as_bool(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=bool)


def _check_pair(pred: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, ref = _as_bool(pred), _as_bool(ref)
    if pred.shape != ref.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape} vs reference {ref.shape}")
    return pred, ref


def _sampling(spacing: Sequence[float] | None, ndim: int) -> tuple[float, ...]:
    """Spacing in (i, j, k) order -> per-array-axis sampling (k, j, i)."""
    if spacing is None:
        return (1.0,) * ndim
    if len(spacing) != ndim:
        raise ValueError(f"spacing {tuple(spacing)} has {len(spacing)} values for a {ndim}D mask")
    return tuple(float(s) for s in reversed(tuple(spacing)))


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice = 2|P n R| / (|P| + |R|); 1.0 when both are empty, 0.0 when only one is."""
    pred, ref = _check_pair(pred, ref)
    total = int(pred.sum()) + int(ref.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(pred, ref).sum()) / total


def _in_plane_structure(ndim: int) -> np.ndarray:
    """4-neighbour cross within each slice (no connection along k for 3D stacks)."""
    cross = ndimage.generate_binary_structure(2, 1)
    if ndim == 2:
        return cross
    if ndim == 3:
        s = np.zeros((3, 3, 3), dtype=bool)
        s[1] = cross
        return s
    raise ValueError(f"expected a 2D or 3D mask, got {ndim}D")


def boundary(mask: np.ndarray, in_plane: bool = False) -> np.ndarray:
    """Mask pixels with at least one face neighbour outside the mask (or outside the array).

    in_plane=True looks only at the 4 neighbours within each slice (perimeter pixels of each 2D
    slice); otherwise face neighbours in every axis (the 3D surface, including the first and last
    covered slices).
    """
    mask = _as_bool(mask)
    if in_plane:
        structure = _in_plane_structure(mask.ndim)
    else:
        structure = ndimage.generate_binary_structure(mask.ndim, 1)
    eroded = ndimage.binary_erosion(mask, structure=structure, border_value=0)
    return mask & ~eroded


def _bounding_box(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    idx = np.nonzero(mask)
    return tuple(
        slice(max(int(i.min()) - margin, 0), min(int(i.max()) + margin + 1, n))
        for i, n in zip(idx, mask.shape, strict=True)
    )


def surface_distances(
    pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Directed surface distances (mm): pred surface -> ref surface, and ref -> pred.

    Surfaces are the `boundary` voxels; distances are Euclidean between voxel centres, with the
    voxel spacing (exact Euclidean distance transform). Both masks must be non-empty.
    """
    pred, ref = _check_pair(pred, ref)
    if not pred.any() or not ref.any():
        raise ValueError("surface distances need two non-empty masks")
    sampling = _sampling(spacing, pred.ndim)
    # Work inside the union's bounding box (+1 voxel): same distances, much less EDT work.
    box = _bounding_box(pred | ref, margin=1)
    pred, ref = pred[box], ref[box]
    bp, br = boundary(pred), boundary(ref)
    to_ref = ndimage.distance_transform_edt(~br, sampling=sampling)
    to_pred = ndimage.distance_transform_edt(~bp, sampling=sampling)
    return to_ref[bp], to_pred[br]


def hausdorff(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: Sequence[float] | None = None,
    percentile: float = 100.0,
) -> float:
    """Symmetric surface Hausdorff distance (mm); percentile < 100 gives the robust variant.

    The robust variant takes the percentile of each directed distance set and returns the larger
    (the MedPy / MONAI convention). Empty vs empty: 0.0; empty vs non-empty: NaN.
    """
    pred, ref = _check_pair(pred, ref)
    has_p, has_r = bool(pred.any()), bool(ref.any())
    if not has_p and not has_r:
        return 0.0
    if has_p != has_r:
        return math.nan
    d_pr, d_rp = surface_distances(pred, ref, spacing)
    return float(max(np.percentile(d_pr, percentile), np.percentile(d_rp, percentile)))


def hd95(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float] | None = None) -> float:
    """95th-percentile symmetric surface Hausdorff distance (mm); same empty conventions."""
    return hausdorff(pred, ref, spacing, percentile=95.0)


def _count_similarity(y: int, t: int) -> float:
    if y + t == 0:
        return 1.0
    return 1.0 - abs(y - t) / (y + t)


def area_similarity(pred: np.ndarray, ref: np.ndarray) -> float:
    """AS = 1 - ||Y| - |T|| / (|Y| + |T|) on pixel counts; 1 for empty vs empty, 0 for one empty."""
    pred, ref = _check_pair(pred, ref)
    return _count_similarity(int(pred.sum()), int(ref.sum()))


def perimeter_similarity(pred: np.ndarray, ref: np.ndarray) -> float:
    """PS: the AS formula on boundary pixel counts (in-plane perimeter pixels of every slice).

    Boundary pixels are those with a 4-neighbour outside the mask in their own slice, so a 3D
    stack's perimeter is the sum of its slices' perimeters (slices are thick; no top/bottom faces).
    """
    pred, ref = _check_pair(pred, ref)
    y = int(boundary(pred, in_plane=True).sum())
    t = int(boundary(ref, in_plane=True).sum())
    return _count_similarity(y, t)


def balanced_accuracy(pred: np.ndarray, ref: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean of sensitivity and specificity over `region` (default: the whole array).

    Only classes present in the reference count: no reference positives -> specificity alone; no
    reference negatives -> sensitivity alone; empty region -> NaN.
    """
    pred, ref = _check_pair(pred, ref)
    if region is not None:
        region = _as_bool(region)
        pred, ref = pred[region], ref[region]
    recalls = []
    for cls in (True, False):
        n = int((ref == cls).sum())
        if n:
            recalls.append(int(((pred == cls) & (ref == cls)).sum()) / n)
    return float(np.mean(recalls)) if recalls else math.nan


def brier_score(prob: np.ndarray, ref: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean squared difference between probabilities (0..1) and the 0/1 reference; NaN if empty."""
    prob = np.asarray(prob, dtype=np.float64)
    ref = _as_bool(ref)
    if prob.shape != ref.shape:
        raise ValueError(f"shape mismatch: probability {prob.shape} vs reference {ref.shape}")
    if np.nanmin(prob, initial=0.0) < 0.0 or np.nanmax(prob, initial=0.0) > 1.0:
        raise ValueError("probabilities must lie in [0, 1]")
    if region is not None:
        region = _as_bool(region)
        prob, ref = prob[region], ref[region]
    if prob.size == 0:
        return math.nan
    return float(np.mean((prob - ref) ** 2))


def volume_ml(mask: np.ndarray, spacing: Sequence[float]) -> float:
    """Voxel count x voxel volume (the slice spacing, gaps included, is the voxel depth)."""
    mask = _as_bool(mask)
    return int(mask.sum()) * float(np.prod(_sampling(spacing, mask.ndim))) / 1000.0


def mass_g(mask: np.ndarray, spacing: Sequence[float]) -> float:
    """Tissue mass (g) at 1.05 g/ml."""
    return volume_ml(mask, spacing) * TISSUE_DENSITY_G_PER_ML


def burden_percent(scar: np.ndarray, myocardium: np.ndarray) -> float:
    """Scar voxels as % of myocardium voxels (scar counted inside the myocardium); NaN if no myo."""
    scar, myo = _check_pair(scar, myocardium)
    n_myo = int(myo.sum())
    if n_myo == 0:
        return math.nan
    return 100.0 * int((scar & myo).sum()) / n_myo


def difference(pred_value: float, ref_value: float) -> float:
    """Signed difference prediction - reference (NaN propagates)."""
    return float(pred_value) - float(ref_value)
