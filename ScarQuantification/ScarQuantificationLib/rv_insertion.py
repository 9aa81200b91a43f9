"""Anterior and inferior RV insertion points found on the LGE image: the AHA orientation from the
anatomy instead of the scanner's patient axes.

On LGE the right-ventricular blood pool is visible next to the septum: grey to bright blood beyond
the (nulled, dark) septal myocardium, several millimetres deep, where elsewhere the LV epicardium
borders lung (dark), thin epicardial fat (very bright, thin) or liver. The RV insertion points are
the two angular ends of the stretch of epicardium the RV blood pool touches.

Method, per slice with an LV cavity (angles are physical in-plane angles, atan2(y_mm, x_mm) with
x along i and y along j, as in aha.py):

1. Intensities relative to the slice's own references, z = (I - remote myocardium) / (LV blood
   pool - remote myocardium) after a 1 mm Gaussian: offsets and scalings (EMIDEC's PSIR-like
   offset, magnitude images) drop out.
2. N_ANGLES rays from the LV centre; along each, z is sampled outwards from the epicardium, and
   summarised per depth band (DEPTH_BANDS_MM, medians), plus the blood-like fraction and spread
   in 2-15 mm, the brightest deep and darkest near sample (RV blood, then its free wall, then the
   chest-wall fat), the depth of the blood-like run, the fraction of fat-bright samples in the
   first 10 mm, squares of the near bands, and the same features averaged over +-20 degrees.
3. A logistic model turns each ray's features into the probability that the RV blood pool borders
   the epicardium there. Its weights (WEIGHTS) were fitted on the 25 MyoPS 2020 training cases
   (RV blood-pool labels, 600) by bench/bench_rv_insertion.py --fit; validated there by
   leave-one-case-out refits (the per-case table is in the README).
4. Stack: the septum direction is the 122-degree window with the highest mean probability over
   the slices (the RV lies on the same side of every slice). Per slice, the contiguous arc with
   the largest summed log-odds whose centre lies within MAX_CENTRE_DEV_DEG of it; its centre is
   pulled half way to the stack's and its width three quarters of the way to PRIOR_WIDTH_DEG
   (the reference arcs' median is 106-113 degrees). These four settings were chosen on MyoPS
   cases 3001-3012 and reported on 3013-3025.

Confidence: a slice counts as detected when its arc's summed log-odds is positive and its mean
probability at least MIN_ARC_PROBABILITY; the study is confident when at least a third of its
slices with a cavity (and at least one) are, and its contrast is the kind the detection was
validated on: magnitude LGE, where the nulled remote myocardium is dark next to the blood pool
(median remote / LV blood pool 0.18-0.62 over the 25 MyoPS cases). Phase-sensitive-like images
with an intensity offset (all 80 EMIDEC patients: 0.80-0.97) are not validated: there the liver
looks like blood and the arc can be pulled towards the inferior wall, so the result is flagged. Which insertion is anterior is not an intensity
question: the AHA angle's turning sense (aha.rotation_sense, from the image's handedness and the
apex-to-base order) picks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .slices import SliceGeometry

N_ANGLES = 180  # rays per slice (2 degrees apart; a multiple of 4, so 90-degree turns map exactly)
DEPTH_BANDS_MM = ((0, 2), (2, 4), (4, 7), (7, 10), (10, 14), (14, 18), (18, 24), (24, 30), (30, 40))
PROFILE_STEP_MM = 0.5
SMOOTH_MM = 1.0
Z_RANGE = (-1.0, 3.0)  # z is clipped to this range before the features
BLOOD_LIKE = (0.3, 2.0)  # z range counted as blood-like
CONTEXT_HALF_ANGLES = 10  # +-20 degrees averaged for the context features
STACK_WINDOW_ANGLES = 61  # 122 degrees: the septal window of the stack's mean probability
MAX_CENTRE_DEV_DEG = 30.0
CENTRE_BLEND = 0.5  # slice arc centre: stack centre + CENTRE_BLEND x (slice's own - stack)
WIDTH_BLEND = 0.25  # slice arc width: WIDTH_BLEND x its own + (1 - WIDTH_BLEND) x the prior
PRIOR_WIDTH_DEG = 110.0
MIN_ARC_PROBABILITY = 0.5
MIN_CAVITY_PX = 10
MIN_REMOTE_PX = 30
MAX_VALIDATED_REMOTE_TO_BLOOD = 0.7  # contrast of the validation set (module doc)

# Logistic model on angle_features (intercept last), fitted on the 25 MyoPS training cases by
# `bench/bench_rv_insertion.py --fit` (features standardised during the fit, folded in here).
WEIGHTS = np.array(
    [
        0.29126,
        1.68035,
        0.941016,
        -0.332738,
        -0.705469,
        -0.35705,
        0.369605,
        -0.00815633,
        0.163112,
        -0.0793739,
        -0.629954,
        -0.214071,
        -0.0298076,
        -0.428023,
        -0.168525,
        0.0373049,
        -0.695012,
        -0.430777,
        -0.0633262,
        0.469668,
        0.206778,
        1.50517,
        2.31387,
        2.51546,
        0.132374,
        -0.396512,
        0.117471,
        0.629605,
        1.6016,
        0.43909,
        2.54138,
        -16.7813,
        -0.651118,
        -4.56859,
        -1.71572,
        -3.61053,
        -2.66653,
    ]
)


@dataclass(frozen=True)
class SliceArc:
    """The RV contact arc of one slice: counterclockwise (in atan2 terms) from start to end."""

    centre: float  # radians: the septum centre
    width: float  # radians
    detected: bool  # the slice's own evidence supports it (module doc)
    probability: float  # mean RV probability of the slice's own best arc

    @property
    def start(self) -> float:
        return float(np.mod(self.centre - self.width / 2, 2 * np.pi))

    @property
    def end(self) -> float:
        return float(np.mod(self.centre + self.width / 2, 2 * np.pi))


@dataclass
class RVDetection:
    """Insertion arcs per slice k and the stack's septum direction (radians)."""

    arcs: dict[int, SliceArc]
    septum: float
    detected: list[int] = field(default_factory=list)  # slices whose own evidence agrees
    remote_to_blood: float | None = None  # median remote myocardium / LV blood pool (raw image)

    @property
    def supported(self) -> bool:
        n = len(self.arcs)
        return n > 0 and len(self.detected) >= max(1, math.ceil(n / 3))

    @property
    def validated_contrast(self) -> bool:
        r = self.remote_to_blood
        return r is None or (np.isfinite(r) and r <= MAX_VALIDATED_REMOTE_TO_BLOOD)

    @property
    def confident(self) -> bool:
        return self.supported and self.validated_contrast

    def summary(self) -> str:
        return f"{len(self.detected)} of {len(self.arcs)} slices"

    def doubts(self) -> list[str]:
        """Why the detection is not confident (empty when it is)."""
        out = []
        if not self.supported:
            out.append(f"only {self.summary()} show the RV blood pool")
        if not self.validated_contrast:
            out.append(
                f"remote myocardium at {self.remote_to_blood:.2f} of the blood pool: a "
                "phase-sensitive-like contrast the detection was not validated on (validated on "
                f"magnitude LGE, <= {MAX_VALIDATED_REMOTE_TO_BLOOD:g})"
            )
        return out


def _rays(n: int = N_ANGLES) -> np.ndarray:
    return np.arange(n) * (2 * np.pi / n)


def _epicardial_radius(
    lv2d: np.ndarray, centre: tuple[float, float], spacing: tuple[float, float], angles: np.ndarray
) -> np.ndarray:
    """mm from the centre to the last LV (myocardium + cavity) sample along each ray; NaN if none."""
    sy, sx = spacing
    rr, cc = np.nonzero(lv2d)
    r0, c0 = centre
    rmax = float(np.hypot((rr - r0) * sy, (cc - c0) * sx).max()) + 2 * max(sy, sx)
    t = np.arange(0.0, rmax, 0.25 * min(sy, sx))
    rows = np.rint(r0 + np.outer(np.sin(angles), t) / sy).astype(int)
    cols = np.rint(c0 + np.outer(np.cos(angles), t) / sx).astype(int)
    ok = (rows >= 0) & (cols >= 0) & (rows < lv2d.shape[0]) & (cols < lv2d.shape[1])
    hit = np.zeros(rows.shape, bool)
    hit[ok] = lv2d[rows[ok], cols[ok]]
    last = np.where(hit.any(1), hit.shape[1] - 1 - np.argmax(hit[:, ::-1], axis=1), -1)
    return np.where(last >= 0, t[np.maximum(last, 0)], np.nan)


def relative_intensity(
    image2d: np.ndarray,
    myo2d: np.ndarray,
    cavity2d: np.ndarray,
    remote2d: np.ndarray,
    spacing: tuple[float, float],
) -> np.ndarray | None:
    """z = (smoothed I - remote myocardium median) / (LV cavity median - remote median), clipped;
    None when the slice has no usable references."""
    if cavity2d.sum() < MIN_CAVITY_PX:
        return None
    sm = ndimage.gaussian_filter(
        np.asarray(image2d, float), (SMOOTH_MM / spacing[0], SMOOTH_MM / spacing[1])
    )
    remote = remote2d if remote2d.sum() >= MIN_REMOTE_PX else myo2d
    mr = float(np.median(sm[remote]))
    bp = float(np.median(sm[cavity2d]))
    if not bp > mr:
        return None
    return np.clip((sm - mr) / (bp - mr), *Z_RANGE)


def angle_features(
    z2d: np.ndarray,
    lv2d: np.ndarray,
    centre: tuple[float, float],
    spacing: tuple[float, float],
) -> np.ndarray:
    """(N_ANGLES, 36) features of the rays from `centre` (module doc); spacing (row, col) mm."""
    angles = _rays()
    sy, sx = spacing
    r_epi = _epicardial_radius(lv2d, centre, spacing, angles)
    depth = np.arange(0.0, DEPTH_BANDS_MM[-1][1], PROFILE_STEP_MM)
    radius = np.nan_to_num(r_epi, nan=0.0)[:, None] + depth[None, :] + 0.5
    rows = centre[0] + np.sin(angles)[:, None] * radius / sy
    cols = centre[1] + np.cos(angles)[:, None] * radius / sx
    prof = ndimage.map_coordinates(z2d, [rows, cols], order=1, cval=Z_RANGE[0])
    prof[np.isnan(r_epi)] = Z_RANGE[0]
    feats = [np.median(prof[:, (depth >= lo) & (depth < hi)], axis=1) for lo, hi in DEPTH_BANDS_MM]
    near = prof[:, (depth >= 2) & (depth < 15)]
    feats.append(((near > BLOOD_LIKE[0]) & (near < BLOOD_LIKE[1])).mean(axis=1))
    feats.append(near.std(axis=1))
    feats.append(prof[:, depth >= 8].max(axis=1))
    feats.append(prof[:, (depth >= 4) & (depth < 30)].min(axis=1))
    blood = (prof > BLOOD_LIKE[0]) & (prof < BLOOD_LIKE[1])
    run = np.where(blood[:, 2:].all(axis=1), blood.shape[1] - 2, np.argmin(blood[:, 2:], axis=1))
    feats.append(run * PROFILE_STEP_MM / DEPTH_BANDS_MM[-1][1])
    feats.append((prof[:, depth < 10] > BLOOD_LIKE[1]).mean(axis=1))
    f = np.stack(feats, axis=1)
    context = ndimage.uniform_filter1d(f, 2 * CONTEXT_HALF_ANGLES + 1, axis=0, mode="wrap")
    return np.concatenate([f, f[:, :6] ** 2, context], axis=1)


def log_odds(features: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    w = WEIGHTS if weights is None else np.asarray(weights, float)
    return features @ w[:-1] + w[-1]


def slice_features(
    image: np.ndarray,
    myocardium: np.ndarray,
    geometry: SliceGeometry,
    scar: np.ndarray | None = None,
) -> dict[int, np.ndarray]:
    """angle_features of every slice with myocardium and a usable LV cavity, by slice k."""
    out = {}
    for k in np.flatnonzero(geometry.covered):
        myo, cav = myocardium[k], geometry.cavity[k]
        remote = myo & ~scar[k] if scar is not None else myo
        z = relative_intensity(image[k], myo, cav, remote, geometry.pixel_spacing)
        centre = geometry.centres[k]
        if z is None or centre is None or geometry.cap[k]:
            continue
        out[int(k)] = angle_features(z, myo | cav, centre, geometry.pixel_spacing)
    return out


def _best_arc(score: np.ndarray, centre_bin: float, max_dev_bins: float) -> tuple[int, int, float]:
    """(start, length, sum) of the circular run of `score` with the largest sum whose centre lies
    within max_dev_bins of centre_bin (runs shorter than the whole circle)."""
    n = score.size
    prefix = np.concatenate([[0.0], np.cumsum(np.concatenate([score, score]))])
    start = np.arange(n)[:, None]
    length = np.arange(1, n)[None, :]
    sums = prefix[start + length] - prefix[start]
    mid = start + (length - 1) / 2.0
    dev = np.abs(np.mod(mid - centre_bin + n / 2.0, n) - n / 2.0)
    sums = np.where(dev <= max_dev_bins + 1e-9, sums, -np.inf)
    s, m = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(s), int(m + 1), float(sums[s, m])


def _wrap(a: float) -> float:
    return float(np.mod(a + np.pi, 2 * np.pi) - np.pi)


def arcs_from_log_odds(logits: dict[int, np.ndarray]) -> RVDetection | None:
    """Stack septum direction and per-slice arcs from each slice's per-ray log-odds."""
    if not logits:
        return None
    n = N_ANGLES
    step = 2 * np.pi / n
    prob = {k: 1.0 / (1.0 + np.exp(-v)) for k, v in logits.items()}
    mean = np.mean(list(prob.values()), axis=0)
    window = ndimage.uniform_filter1d(mean, STACK_WINDOW_ANGLES, mode="wrap")
    phi_bin = int(np.argmax(window))
    phi = phi_bin * step
    max_dev = np.radians(MAX_CENTRE_DEV_DEG) / step
    arcs, detected = {}, []
    prior = np.radians(PRIOR_WIDTH_DEG)
    for k, v in logits.items():
        s, length, total = _best_arc(v, phi_bin, max_dev)
        own_centre = (s + (length - 1) / 2.0) * step
        own_width = length * step
        p_in = float(prob[k][(s + np.arange(length)) % n].mean())
        centre = phi + CENTRE_BLEND * _wrap(own_centre - phi)
        width = WIDTH_BLEND * own_width + (1 - WIDTH_BLEND) * prior
        ok = total > 0 and p_in >= MIN_ARC_PROBABILITY
        arcs[k] = SliceArc(float(np.mod(centre, 2 * np.pi)), float(width), ok, p_in)
        if ok:
            detected.append(k)
    return RVDetection(arcs, float(phi), sorted(detected))


def detect_rv_insertion(
    image: np.ndarray,
    myocardium: np.ndarray,
    geometry: SliceGeometry,
    scar: np.ndarray | None = None,
) -> RVDetection | None:
    """RV insertion arcs of an LGE stack (module doc); None without a slice to look at."""
    image = np.asarray(image, float)
    myo = np.asarray(myocardium, bool)
    feats = slice_features(image, myo, geometry, scar)
    detection = arcs_from_log_odds({k: log_odds(f) for k, f in feats.items()})
    if detection is not None:
        detection.remote_to_blood = remote_to_blood(image, myo, geometry.cavity, scar)
    return detection


def remote_to_blood(
    image: np.ndarray, myocardium: np.ndarray, cavity: np.ndarray, scar: np.ndarray | None = None
) -> float:
    """Median remote myocardium / median LV cavity intensity of the raw stack (NaN when the
    cavity's median is not positive)."""
    remote = myocardium & ~scar if scar is not None else myocardium
    if remote.sum() < MIN_REMOTE_PX:
        remote = myocardium
    blood = float(np.median(image[cavity])) if cavity.any() else float("nan")
    if not blood > 0 or not remote.any():
        return float("nan")
    return float(np.median(image[remote]) / blood)
