"""Morphological plausibility checks of one 2D LV myocardium mask in the stage-2 crop frame.

A plausible short-axis myocardium is one object, a closed ring around the blood pool (an open
"C" is allowed only at the base, where the ring opens into the outflow tract), without holes in
the wall, with a nearly convex and roughly circular outer contour and a wall thickness within
the range real hearts show. Lengths are relative to the LV diameter (the crop is scale-normalised
by the LV size, so pixel spacing does not matter); thresholds were set on training ground truth
(see Resources/Models/anatomy.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage
from skimage import measure, morphology

RING_CLOSED = "closed"
RING_OPEN = "open"  # "C" shape: no enclosed cavity but the wall covers a large arc
RING_NONE = "none"


@dataclass(frozen=True)
class CheckThresholds:
    # Set from the training ground truth (73 patients, 442 slices) with a margin around its
    # extremes: defect depth <= 0.08, circularity >= 0.69, wall thickness (10th .. 90th
    # percentile along the wall) 0.029 .. 0.358. A 1-pixel wall (0.016) fails.
    max_defect_depth: float = 0.10  # deepest convexity defect of the outer contour / LV diameter
    min_circularity: float = 0.65  # 4 pi area / perimeter^2 of the outer contour
    max_circularity: float = 1.05  # > 1 only through contour discretisation
    min_thickness: float = 0.02  # 10th percentile of wall thickness / LV diameter
    max_thickness: float = 0.42  # 90th percentile of wall thickness / LV diameter
    min_open_arc: float = 0.6  # fraction of 360 degrees a "C" covers around its mouth's centre
    min_mouth: float = 0.1  # the mouth's share of the filled "C" (excludes near-convex blobs)
    min_area: int = 30  # pixels; anything smaller is no myocardium at all
    min_hole_area: int = 10  # pixels (about 0.3% of the LV area in the crop frame)


@dataclass
class CheckResult:
    area: int
    n_objects: int
    one_object: bool
    n_wall_holes: int  # enclosed background regions besides the blood-pool cavity
    no_holes: bool
    ring: str  # RING_CLOSED, RING_OPEN or RING_NONE
    arc_coverage: float
    ring_ok: bool
    lv_diameter: float  # equivalent diameter of the outer contour (pixels)
    defect_depth: float  # relative to lv_diameter
    convexity_ok: bool
    circularity: float
    circularity_ok: bool
    thickness_low: float  # 10th percentile, relative to lv_diameter
    thickness_high: float  # 90th percentile, relative to lv_diameter
    thickness_ok: bool
    passes: bool

    def failed(self) -> list[str]:
        names = ("one_object", "no_holes", "ring_ok", "convexity_ok", "circularity_ok")
        return [n for n in (*names, "thickness_ok") if not getattr(self, n)]

    def as_dict(self) -> dict:
        return asdict(self)


def _enclosed_background(mask: np.ndarray) -> tuple[np.ndarray, int]:
    # Background with 4-connectivity (the dual of 8-connected foreground); regions not touching
    # the crop border are enclosed by the myocardium.
    lab, n = ndimage.label(~mask)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    enclosed = np.setdiff1d(np.arange(1, n + 1), border)
    return lab, enclosed


def _arc_coverage(mask: np.ndarray, center: np.ndarray, bins: int = 72) -> float:
    yy, xx = np.nonzero(mask)
    ang = np.arctan2(yy - center[0], xx - center[1])
    hist = np.bincount(((ang + np.pi) / (2 * np.pi) * bins).astype(int) % bins, minlength=bins)
    return float(np.count_nonzero(hist)) / bins


def _defects(outer: np.ndarray) -> tuple[np.ndarray, list[tuple[int, float]]]:
    """Convex-hull defect regions of a filled shape: (labels, [(area, depth in pixels)])."""
    hull = morphology.convex_hull_image(outer)
    depth_map = ndimage.distance_transform_edt(np.pad(hull, 1))[1:-1, 1:-1]
    lab, n = ndimage.label(hull & ~outer)
    out = []
    for i in range(1, n + 1):
        sel = lab == i
        out.append((int(sel.sum()), float(depth_map[sel].max())))
    return lab, out


def _circularity(outer: np.ndarray) -> float:
    """4 pi area / perimeter^2 of the sub-pixel outer contour.

    The contour of a slightly smoothed mask is used because pixel-counted perimeters of staircase
    edges (nearest-neighbour resized labels) overestimate the perimeter by up to 15%.
    """
    smooth = ndimage.gaussian_filter(np.pad(outer, 2).astype(np.float32), 1.0)
    contours = measure.find_contours(smooth, 0.5)
    if not contours:
        return 0.0
    c = max(contours, key=len)
    perimeter = float(np.sum(np.hypot(*np.diff(c, axis=0).T)))
    area = 0.5 * abs(float(np.dot(c[:-1, 0], c[1:, 1]) - np.dot(c[1:, 0], c[:-1, 1])))
    return 4.0 * np.pi * area / perimeter**2 if perimeter > 0 else 0.0


def check_myocardium(
    mask: np.ndarray, allow_open: bool = False, thresholds: CheckThresholds | None = None
) -> CheckResult:
    """Check a 2D boolean myocardium mask; allow_open=True for basal slices ("C" allowed)."""
    th = thresholds or CheckThresholds()
    mask = np.asarray(mask, dtype=bool)
    area = int(mask.sum())
    _, n_objects = ndimage.label(mask, structure=np.ones((3, 3)))
    if area < th.min_area:
        return CheckResult(area, n_objects, False, 0, True, RING_NONE, 0.0, False, 0.0, 0.0,
                           False, 0.0, False, 0.0, 0.0, False, False)  # fmt: skip

    bg_lab, enclosed = _enclosed_background(mask)
    if enclosed.size:
        sizes = ndimage.sum_labels(np.ones_like(mask), bg_lab, enclosed)
        # Pinholes (annotation or prediction speckle) do not count as holes in the wall.
        n_holes = int(np.count_nonzero(np.delete(sizes, int(np.argmax(sizes))) >= th.min_hole_area))
        outer = ndimage.binary_fill_holes(mask)
        ring, coverage = RING_CLOSED, 1.0
        _, defects = _defects(outer)
    else:
        # A "C": its largest hull defect is the mouth (the open cavity), sizeable and wrapped
        # by the wall over most of the circle as seen from the mouth's centre.
        n_holes = 0
        defect_lab, defects = _defects(mask)
        ring, coverage, outer = RING_NONE, 0.0, mask
        if defects:
            i = int(np.argmax([a for a, _ in defects]))
            mouth = defect_lab == i + 1
            coverage = _arc_coverage(mask, np.array(ndimage.center_of_mass(mouth)))
            if coverage >= th.min_open_arc and defects[i][0] >= th.min_mouth * (
                area + defects[i][0]
            ):
                ring, outer = RING_OPEN, mask | mouth
                defects = defects[:i] + defects[i + 1 :]
    diameter = 2.0 * float(np.sqrt(outer.sum() / np.pi))
    depth = max((d for _, d in defects), default=0.0) / diameter
    circularity = _circularity(outer)

    # Local wall thickness along the medial axis: 2 x distance to the edge, minus one pixel
    # (the distance of an edge pixel itself is 1).
    dist = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    thick = (2.0 * dist[morphology.skeletonize(mask)] - 1.0) / diameter
    low, high = np.percentile(thick, [10, 90]) if thick.size else (0.0, 0.0)

    one = n_objects == 1
    no_holes = n_holes == 0
    ring_ok = ring == RING_CLOSED or (ring == RING_OPEN and allow_open)
    conv_ok = depth <= th.max_defect_depth
    circ_ok = th.min_circularity <= circularity <= th.max_circularity
    thick_ok = low >= th.min_thickness and high <= th.max_thickness
    return CheckResult(
        area=area,
        n_objects=int(n_objects),
        one_object=one,
        n_wall_holes=n_holes,
        no_holes=no_holes,
        ring=ring,
        arc_coverage=coverage,
        ring_ok=ring_ok,
        lv_diameter=diameter,
        defect_depth=float(depth),
        convexity_ok=conv_ok,
        circularity=float(circularity),
        circularity_ok=circ_ok,
        thickness_low=float(low),
        thickness_high=float(high),
        thickness_ok=bool(thick_ok),
        passes=bool(one and no_holes and ring_ok and conv_ok and circ_ok and thick_ok),
    )


def blood_pool_cavity(mask: np.ndarray) -> np.ndarray:
    """The blood pool a myocardium mask outlines: the largest region it encloses (closed ring)
    or, for an open "C", its mouth (largest convex-hull defect); empty when neither exists."""
    mask = np.asarray(mask, dtype=bool)
    bg_lab, enclosed = _enclosed_background(mask)
    if enclosed.size:
        sizes = ndimage.sum_labels(np.ones_like(mask), bg_lab, enclosed)
        return bg_lab == enclosed[int(np.argmax(sizes))]
    if not mask.any():
        return np.zeros_like(mask)
    defect_lab, defects = _defects(mask)
    if not defects:
        return np.zeros_like(mask)
    return defect_lab == 1 + int(np.argmax([a for a, _ in defects]))
