"""LGE-like synthetic scar pasted into normal slices, to enlarge the scar head's training set.

Modelling choices (why):
- Shape: infarcts spread from the endocardium outwards (wavefront phenomenon), so a lesion is
  an angular sector of the wall (angles about the blood-pool centre) whose transmural extent is
  largest at its centre (drawn from subendocardial to transmural) and tapers towards the
  endocardium at its sides; a smooth random field roughens its borders. One lesion, or two in
  other territories (p 0.25); together they cover ~5-40 % of the slice's myocardium (the
  sector width is solved for a drawn fraction; real EMIDEC slices with scar: 5-55 %, median 21 %).
- Extent: only the myocardium (label 2) is enhanced. The shape is blurred (sigma 0.8-1.5 px) and
  the image is blended by it, so the border is a gray zone; label 3 where the blurred shape is
  above half its peak. Outside the myocardium the image changes only within 3 px (blur of the edge
  into the partial-volume pixels), never further.
- Brightness: contrast ratios transfer between slices and centres, absolute values do not (the
  CLAHE-standardised slices differ in contrast): a real scar's median lies at
  (scar - remote) / (blood pool - remote) ~ 1 (5-95 %: 0.5-1.9 on EMIDEC, MyoPS alike). The bank
  keeps that ratio and the scar/remote SD ratio of each training slice with scar; each lesion draws
  one slice's pair, its peak is solved so that the median over the labelled lesion matches the
  drawn ratio, and its SD is matched: the soft edge already spreads the values (as the gray zone
  does), the rest is smooth noise, or the wall's own texture is damped when it is too much.
- No-reflow: with p 0.2 a large lesion gets a subendocardial core (label 4, ~10-50 % of the
  lesion as on EMIDEC) whose median is set below the lesion's by a drawn real no-reflow-minus-scar
  offset (no-reflow is darker than its own scar on 99 % of EMIDEC slices, often near remote).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

FRACTION = (0.05, 0.40)  # of the slice's myocardium, all lesions together
P_TWO_LESIONS = 0.25
P_NO_REFLOW = 0.2
NO_REFLOW_MIN_FRACTION = 0.10  # "large" lesion (of the myocardium, and transmural extent):
NO_REFLOW_MIN_EXTENT = 0.6  # a core only in these
# core: central part of the sector (x half-width), inner part of the wall (x extent); sized so
# that it is ~10-50 % of its lesion, as on EMIDEC (median 20 %)
NO_REFLOW_HALF, NO_REFLOW_DEPTH = (0.25, 0.6), (0.3, 0.6)
MAX_HALF_WIDTH = 0.5 * np.pi  # a lesion spans at most half the circumference (one territory)
EXTENT = (0.25, 1.2)  # peak transmural extent (wall fraction; > 1: transmural over a wider arc)
EDGE_SIGMA = (0.8, 1.5)  # px, soft (gray-zone-like) border
ROUGHNESS_SIGMA = 3.0  # px, scale of the border irregularity
NOISE_SIGMA = 2.0  # px: real scar heterogeneity is patchy, finer noise looks like salt and pepper
DEPTH_JITTER, ANGLE_JITTER = 0.12, 0.15  # border irregularity (wall fraction, radians)
GATE_PX = 3  # the image changes at most this far outside the myocardium
MIN_MYO_PIXELS = 30
MIN_PIXELS = 20  # of a class to measure its intensity in the bank
MIN_CONTRAST = 0.06  # blood pool - remote floor, so a lesion never becomes invisible
MIN_PEAK, MAX_PEAK = 0.3, 3.0  # x (blood pool - remote): a lesion is always enhanced
FALLBACK_CONTRAST = 0.15  # blood pool - remote when there is no blood pool (EMIDEC median ~0.14)

# For a call without a bank: quantiles (5, 25, 50, 75, 95 %) of `from_slices` on all EMIDEC PNG
# slices (286 entries, 85 with no-reflow); training builds its bank from the train split instead
_QUANTILES = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
_DEFAULT = {
    "contrast": [0.50, 0.79, 1.00, 1.24, 1.72],
    "texture": [0.55, 0.77, 0.97, 1.21, 1.64],
    "no_reflow": [-1.39, -0.83, -0.50, -0.30, -0.11],
}


@dataclass
class ScarIntensityBank:
    """Real scar appearance relative to its own slice, one entry per training slice with scar."""

    contrast: np.ndarray  # (median scar - remote) / (blood pool - remote)
    texture: np.ndarray  # scar SD / remote SD (same slice as contrast)
    # (median no-reflow - median scar) / (blood pool - remote), slices with both: relative to the
    # scar, since no-reflow is darker than its own scar (99 % of EMIDEC slices), not than remote
    no_reflow: np.ndarray

    @classmethod
    def default(cls) -> ScarIntensityBank:
        q = np.linspace(0.05, 0.95, 19)
        return cls(*(np.interp(q, _QUANTILES, _DEFAULT[k]) for k in _DEFAULT))

    @classmethod
    def from_slices(cls, slices: Iterable[tuple[np.ndarray, np.ndarray]]) -> ScarIntensityBank:
        """From (standardised image, EMIDEC label) pairs; slices without enough scar, remote
        myocardium or blood pool are skipped; falls back to the defaults where nothing is left."""
        contrast, texture, no_reflow = [], [], []
        for img, lab in slices:
            scar = lab >= 3
            if np.count_nonzero(lab == 3) < MIN_PIXELS:
                continue
            # remote: myocardium away from the scar (its border pixels are partial volume)
            remote = (lab == 2) & ~ndimage.binary_dilation(scar, iterations=3)
            bp = lab == 1
            if np.count_nonzero(remote) < MIN_PIXELS or np.count_nonzero(bp) < MIN_PIXELS:
                continue
            r = float(np.median(img[remote]))
            span = float(np.median(img[bp])) - r
            if span < MIN_CONTRAST:  # ratio undefined when the blood pool is not brighter
                continue
            sd = float(np.std(img[remote]))
            contrast.append((float(np.median(img[lab == 3])) - r) / span)
            texture.append(float(np.std(img[lab == 3])) / max(sd, 1e-6))
            if np.count_nonzero(lab == 4) >= MIN_PIXELS:
                no_reflow.append(float(np.median(img[lab == 4]) - np.median(img[lab == 3])) / span)
        d = cls.default()
        if not contrast:
            return d
        return cls(
            np.array(contrast), np.array(texture), np.array(no_reflow) if no_reflow else d.no_reflow
        )

    def __len__(self) -> int:
        return len(self.contrast)

    def draw(self, rng: np.random.Generator) -> tuple[float, float]:
        i = int(rng.integers(len(self.contrast)))
        return float(self.contrast[i]), float(self.texture[i])

    def draw_no_reflow(self, rng: np.random.Generator) -> float:
        return float(self.no_reflow[int(rng.integers(len(self.no_reflow)))])


def add_synthetic_scar(
    std: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    bank: ScarIntensityBank | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(image float32, label uint8) with one or two synthetic lesions in the myocardium (label 2).
    Inputs are not modified; a slice that already has scar (3/4) or almost no myocardium is
    returned unchanged (as copies)."""
    img = np.array(std, dtype=np.float32)
    lab = np.array(label, dtype=np.uint8)
    if (lab >= 3).any() or np.count_nonzero(lab == 2) < MIN_MYO_PIXELS:
        return img, lab
    bank = bank if bank is not None else ScarIntensityBank.default()
    crop = _crop(lab >= 1, margin=GATE_PX + 5)
    im, lb = img[crop], lab[crop]  # views: edits write through
    myo, bp = lb == 2, lb == 1
    depth, theta = _wall_coordinates(myo, bp)
    remote = float(np.median(im[myo]))
    remote_sd = float(np.std(im[myo]))
    has_bp = np.count_nonzero(bp) >= MIN_PIXELS
    span = float(np.median(im[bp])) - remote if has_bp else FALLBACK_CONTRAST
    span = max(span, MIN_CONTRAST)
    # enhancement allowed in the myocardium and fading within GATE_PX outside it
    gate = np.clip(2.0 * ndimage.gaussian_filter(myo.astype(np.float32), 1.0), 0.0, 1.0)
    gate *= ndimage.binary_dilation(myo, iterations=GATE_PX)

    fraction = rng.uniform(*FRACTION)
    n = 2 if rng.random() < P_TWO_LESIONS else 1
    parts = [fraction] if n == 1 else [fraction * (u := rng.uniform(0.3, 0.7)), fraction * (1 - u)]
    theta0 = rng.uniform(-np.pi, np.pi)
    shift = np.zeros(im.shape, np.float32)
    taken = np.zeros(myo.shape, bool)
    scar3 = np.zeros(myo.shape, bool)
    scar4 = np.zeros(myo.shape, bool)
    for k, part in enumerate(parts):
        centre = theta0 if k == 0 else theta0 + rng.uniform(0.5, 1.5) * np.pi
        field = _smooth_noise(rng, myo.shape, ROUGHNESS_SIGMA)
        extent, taper = rng.uniform(*EXTENT), rng.uniform(0.3, 1.0)
        allowed = myo & ~ndimage.binary_dilation(taken, iterations=3)
        target = part * np.count_nonzero(myo)
        # roughened wall coordinates: the smooth field makes the borders irregular
        rough = depth + DEPTH_JITTER * field
        dtheta = np.angle(np.exp(1j * (theta - centre))) + ANGLE_JITTER * field
        mask, phi, ext = _sector(rough, dtheta, allowed, extent, taper, target)
        if np.count_nonzero(mask) < 3:
            continue
        taken |= mask
        sigma = rng.uniform(*EDGE_SIGMA)
        # the lesion continues into the non-myocardial neighbours so its blur does not fade at
        # the endocardium; the gate removes it from there again
        ext_mask = mask | (ndimage.binary_dilation(mask, iterations=2) & ~myo)
        w = ndimage.gaussian_filter(ext_mask.astype(np.float32), sigma)
        lesion = (w > 0.5) & myo
        if not lesion.any():
            continue
        ratio, sd_ratio = bank.draw(rng)
        noise = _smooth_noise(rng, myo.shape, NOISE_SIGMA)
        core, wc = np.zeros(myo.shape, bool), np.zeros(myo.shape, np.float32)
        large = np.count_nonzero(lesion) >= NO_REFLOW_MIN_FRACTION * np.count_nonzero(myo)
        if rng.random() < P_NO_REFLOW and large and ext.max() >= NO_REFLOW_MIN_EXTENT:
            half, depth_frac = rng.uniform(*NO_REFLOW_HALF), rng.uniform(*NO_REFLOW_DEPTH)
            core_mask = mask & (np.abs(phi) < half) & (rough < depth_frac * ext)
            core_mask |= ndimage.binary_dilation(core_mask, iterations=2) & bp  # as the lesion
            wc = ndimage.gaussian_filter(core_mask.astype(np.float32), sigma)  # <= w
            core = (wc > 0.5) & lesion
            offset = bank.draw_no_reflow(rng)
            if np.count_nonzero(core) < 5 or not (lesion & ~core).any():
                core, wc = np.zeros(myo.shape, bool), np.zeros(myo.shape, np.float32)
        rim = lesion & ~core  # label 3
        # peak: the median over label 3 lands at the drawn ratio (the wall under it may already
        # be brighter than remote, e.g. partial volume with the blood pool); never darker
        level, gw = remote + ratio * span, (gate * w)[rim]
        lo, hi = MIN_PEAK * span, MAX_PEAK * span
        peak = _solve_shift(im[rim], gw, level, lo, hi)
        # texture to the real scar/remote SD ratio; the soft edge already spreads the values
        # (as the gray zone does in real scar), so only the rest is added as smooth noise, or
        # the wall's own texture is damped about the lesion's level
        have = float(np.std(np.minimum(im[rim] + gw * peak, 1.0)))
        want = sd_ratio * remote_sd
        if want < have:
            texture = w * myo * (want / have - 1.0) * (im - float(np.median(im[rim])))
        else:
            texture = w * myo * noise * np.sqrt(want**2 - have**2)
        # the no-reflow core's median sits the drawn offset below the scar's; core and scar
        # levels interact through the blur, so both are solved twice
        nr_shift = 0.0
        for _ in range(2 if core.any() else 1):
            base = im[rim] + (gate * (texture + wc * nr_shift))[rim]
            peak = _solve_shift(base, gw, level, lo, hi)
            if core.any():
                base = im[core] + (gate * (texture + w * peak))[core]
                nr_level = remote + (ratio + offset) * span
                nr_shift = _solve_shift(base, (gate * wc)[core], nr_level, -hi, 0.0)
        contribution = texture + w * peak + wc * nr_shift
        shift += gate * contribution
        scar3 |= lesion
        scar4 |= core
    changed = shift != 0
    im[changed] = np.clip(im[changed] + shift[changed], 0.0, 1.0)
    lb[scar3] = 3
    lb[scar4] = 4
    return img, lab


def _solve_shift(
    base: np.ndarray, weight: np.ndarray, target: float, lo: float, hi: float
) -> float:
    """Shift x in [lo, hi] putting median(clip(base + weight * x, 0, 1)) at target, by bisection
    (monotone in x; the nearest bound when out of reach)."""
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        if np.median(np.clip(base + weight * mid, 0.0, 1.0)) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _crop(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    rows, cols = np.nonzero(mask)
    return (
        slice(max(rows.min() - margin, 0), rows.max() + margin + 1),
        slice(max(cols.min() - margin, 0), cols.max() + margin + 1),
    )


def _wall_coordinates(myo: np.ndarray, bp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Transmural depth (0 endocardium .. 1 epicardium) and angle about the cavity centre."""
    inner = bp
    if not bp.any():  # apical slice without cavity: grow from the myocardium's centre
        inner = np.zeros_like(myo)
        cy, cx = (int(round(c)) for c in ndimage.center_of_mass(myo))
        inner[cy, cx] = True
    d_endo = ndimage.distance_transform_edt(~inner)
    d_epi = ndimage.distance_transform_edt(myo | inner)
    depth = np.clip((d_endo - 0.5) / np.maximum(d_endo + d_epi - 1.0, 1.0), 0.0, 1.0)
    cy, cx = ndimage.center_of_mass(inner)
    rows, cols = np.mgrid[: myo.shape[0], : myo.shape[1]]
    return depth, np.arctan2(rows - cy, cols - cx)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    f = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return f / max(float(f.std()), 1e-6)


def _sector(
    rough: np.ndarray,
    dtheta: np.ndarray,
    allowed: np.ndarray,
    extent: float,
    taper: float,
    target: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lesion mask of ~target pixels from the (roughened) transmural depth and angle off the
    lesion's centre: the half-width is solved by bisection (the area grows with it), the peak
    extent raised when even the widest sector is too small.
    Returns (mask, relative angle phi, in [-1, 1] inside, transmural extent per pixel)."""

    def build(half: float, ext_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        phi = dtheta / half
        ext = ext_max * np.cos(np.clip(np.abs(phi), 0.0, 1.0) * np.pi / 2) ** taper
        return allowed & (np.abs(phi) < 1.0) & (rough < ext), phi, ext

    while np.count_nonzero(build(MAX_HALF_WIDTH, extent)[0]) < target and extent < EXTENT[1]:
        extent = min(extent + 0.25, EXTENT[1])
    lo, hi = 0.05, MAX_HALF_WIDTH
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.count_nonzero(build(mid, extent)[0]) < target else (lo, mid)
    return build(hi, extent)
