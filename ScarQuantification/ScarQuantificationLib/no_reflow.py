"""No-reflow (microvascular obstruction) inside a scar that already includes it.

A scar network is trained on scar + no-reflow (EMIDEC labels 3 and 4), so its mask contains the
dark core. The core is split off here: scar pixels darker than remote + `fraction` x (bright
scar - remote) (remote = median of the myocardium outside the scar, bright scar = its 95th
percentile, the FWHM construction at a lower fraction) that form a component of which at most
`max_healthy_border` of the border is healthy myocardium or outside the epicardium (the rest
is scar or blood pool): a core enclosed by scar, not the scar's partial-volume or gray-zone edge. Fixed rule; the two
parameters had the best mean Dice vs EMIDEC label 4 on the train + val patients
(bench/bench_no_reflow.py).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .core_scar import MIN_VOXELS, remote_stats

DEFAULT_FRACTION = 0.5
DEFAULT_MAX_HEALTHY_BORDER = 0.3
MIN_PIXELS = 3  # smaller dark specks inside a scar are noise, not obstruction
BRIGHT_PERCENTILE = 95.0


def dark_core_no_reflow(
    image: np.ndarray,
    myocardium: np.ndarray,
    scar: np.ndarray,
    fraction: float = DEFAULT_FRACTION,
    max_healthy_border: float = DEFAULT_MAX_HEALTHY_BORDER,
    min_pixels: int = MIN_PIXELS,
) -> np.ndarray:
    """(k, j, i) no-reflow mask, a subset of `scar`; empty when there is no remote baseline."""
    image = np.asarray(image, dtype=float)
    myo = np.asarray(myocardium, bool)
    scar = np.asarray(scar, bool) & myo
    out = np.zeros_like(scar)
    healthy = myo & ~scar
    if not scar.any() or np.count_nonzero(healthy) < MIN_VOXELS:
        return out
    remote = remote_stats(image[healthy], "myocardium outside the scar").reference
    bright = float(np.percentile(image[scar], BRIGHT_PERCENTILE))
    dark = scar & (image <= remote + fraction * (bright - remote))
    cross = ndimage.generate_binary_structure(2, 1)
    for k in np.flatnonzero(dark.any(axis=(1, 2))):
        # healthy myocardium and the outside of the heart do not enclose a core; scar and the
        # blood pool (inside the epicardial contour) do
        open_side = healthy[k] | ~ndimage.binary_fill_holes(myo[k])
        labels, _ = ndimage.label(dark[k], cross)
        for i, sl in enumerate(ndimage.find_objects(labels), start=1):
            # the component's box grown by one pixel holds its whole border
            box = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
            comp = labels[box] == i
            if comp.sum() < min_pixels:
                continue
            border = ndimage.binary_dilation(comp, cross) & ~comp
            if np.count_nonzero(border & open_side[box]) <= max_healthy_border * border.sum():
                out[k][box] |= comp
    return out
