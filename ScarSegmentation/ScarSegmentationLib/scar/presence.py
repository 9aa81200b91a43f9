"""Scar presence: lesions too small to be an infarct are dropped, and a heart whose remaining
scar is below a minimum burden is reported as scar-free.

Both limits are shares of the myocardium (voxel counts, so the same on studies with and without
a known spacing). A third, optional limit is the lesion's mean scar probability: specks the
network is unsure of go, a small confident lesion stays. The networks call a little scar in
most normal hearts (small bright specks of partial volume near the blood pool); a cardiologist
reads "no scar" there, and a burden of a fraction of a percent drawn as an apical infarct on the
bullseye is worse than none. The limits
are calibrated on the cross-validation (bench/bench_cv.py, bench/calibrate_presence.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# 3D components: a lesion on neighbouring slices that overlaps in-plane is one lesion
CONNECTIVITY = ndimage.generate_binary_structure(3, 1)


@dataclass(frozen=True)
class PresenceRule:
    min_lesion_percent: float = 0.0  # a scar component needs this share of the myocardium
    min_burden_percent: float = 0.0  # below this total burden the heart is scar-free
    min_lesion_probability: float = 0.0  # a lesion's mean scar probability needs this

    @property
    def name(self) -> str:
        name = f"lesion>={self.min_lesion_percent:g}%,burden>={self.min_burden_percent:g}%"
        if self.min_lesion_probability > 0:
            name += f",prob>={self.min_lesion_probability:g}"
        return name


@dataclass
class PresenceResult:
    scar: np.ndarray
    lesions_dropped: int
    scar_free: bool  # scar was given and none is left


def apply_presence(
    scar: np.ndarray,
    myocardium: np.ndarray,
    rule: PresenceRule,
    probability: np.ndarray | None = None,
) -> PresenceResult:
    """(k, j, i) scar mask filtered by the rule (a new array; the input is left as it is).
    `probability` (the scar probability map) is needed by a rule with a lesion probability."""
    if rule.min_lesion_probability > 0 and probability is None:
        raise ValueError(f"scar presence rule {rule.name} needs the scar probability map")
    scar = np.asarray(scar, bool) & np.asarray(myocardium, bool)
    myo_voxels = int(np.count_nonzero(myocardium))
    if not scar.any() or myo_voxels == 0:
        return PresenceResult(scar.copy(), 0, False)
    labels, n = ndimage.label(scar, CONNECTIVITY)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    keep = 100.0 * sizes / myo_voxels >= rule.min_lesion_percent
    if rule.min_lesion_probability > 0 and n:
        index = np.arange(1, n + 1)
        mean_p = ndimage.mean(np.asarray(probability, np.float64), labels, index)
        keep &= np.asarray(mean_p) >= rule.min_lesion_probability
    out = keep[labels - 1] & scar if n else scar.copy()
    dropped = int(np.count_nonzero(~keep))
    if 100.0 * np.count_nonzero(out) / myo_voxels < rule.min_burden_percent:
        out, dropped = np.zeros_like(out), n
    return PresenceResult(out, dropped, not out.any())
