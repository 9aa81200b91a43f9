"""A synthetic LGE short-axis stack with known ground truth. NOT patient data.

The made-up heart: an LV whose wall is the shell between two truncated prolate half-ellipsoids
(so the ring tapers to the apex), bright blood pool, a transmural infarct (apex to mid, anterior
septum) with a dark no-reflow core on its endocardial side, a subendocardial infarct (mid to
base, inferolateral), the RV, epicardial fat, lungs and textured body tissue. Rendered at 4x the
resolution in all three axes then averaged (partial volume); the label of a voxel is the
majority of its sub-voxels. Noise is Rician (magnitude images, Rayleigh in air) or Gaussian
around an offset (EMIDEC-like phase-sensitive intensities). Deterministic for a seed.

Labels follow EMIDEC: 0 background, 1 blood pool, 2 normal myocardium, 3 scar, 4 no-reflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from .study import Study

# Tissue classes of the high-resolution model, and their EMIDEC label.
AIR, BODY, LUNG, LV_BLOOD, MYO, SCAR, NO_REFLOW, RV_BLOOD, RV_WALL, FAT = range(10)
TO_EMIDEC = np.array([0, 0, 0, 1, 2, 3, 4, 0, 0, 0], dtype=np.uint8)
# Relative LGE signal (inversion time nulling normal myocardium); body gets a texture on top.
SIGNAL = np.array([0.0, 0.45, 0.06, 0.80, 0.12, 0.85, 0.10, 0.72, 0.15, 0.90], dtype=np.float32)
# Base -> apex direction of the made-up LV in LPS (left, anterior, inferior).
_APEX_LPS = np.array([0.62, -0.45, -0.64])
_HEART_CENTRE_LPS = np.array([15.0, 30.0, -25.0])


@dataclass(frozen=True)
class PhantomShape:
    """Millimetres along the long axis z (0 = base plane, negative towards the apex)."""

    endo_radius: float = 24.0
    wall: float = 9.0
    z_equator: float = -35.0  # above: cylinder; below: ellipsoidal taper
    z_apex_endo: float = -74.0
    z_apex_epi: float = -84.0
    z_top: float = 20.0  # most basal tissue
    first_slice_z: float = -77.0


def make_phantom(
    seed: int = 0,
    *,
    num_slices: int = 10,
    size: int = 192,
    spacing: tuple[float, float, float] = (1.5, 1.5, 10.0),
    intensity: str = "emidec",
    noise: float = 0.04,
    supersample: int = 4,
    reverse_slices: bool = False,
) -> tuple[Study, np.ndarray]:
    """(study, labels): a synthetic LGE stack (float32, (k, j, i)) and its EMIDEC label map (uint8).

    intensity: "emidec" (offset 2048, Gaussian noise, values in 0..4095, like EMIDEC) or
    "magnitude" (black background, Rician noise). noise: standard deviation relative to the
    blood signal scale. reverse_slices: store the stack base first (geometry follows), to test
    slice ordering. Slice k = 0 is the apex unless reversed.
    """
    if intensity not in ("emidec", "magnitude"):
        raise ValueError(f"intensity must be 'emidec' or 'magnitude', not {intensity!r}")
    rng = np.random.default_rng(seed)
    shape = PhantomShape()
    f = int(supersample)
    sx, sy, sz = (float(s) for s in spacing)
    # High-resolution in-plane grid, mm from the LV centre (slightly off the image centre).
    centre = np.array([size * sx / 2 + 12.0, size * sy / 2 + 6.0]) + rng.normal(0, 2.0, 2)
    coords = (np.arange(size * f) + 0.5) / f
    x = (coords * sx - centre[0])[None, :]
    y = (coords * sy - centre[1])[:, None]
    r = np.hypot(x, y).astype(np.float32)
    theta = np.arctan2(y, x).astype(np.float32)  # 0 = image right (lateral), +pi/2 = image down
    sectors = _sector_masks(theta, _random_sectors(rng))
    wall_mod = (1.0 + 0.12 * np.cos(theta - rng.uniform(-np.pi, np.pi))).astype(np.float32)
    body = _body(size * f, rng)
    texture = _texture(size * f, rng)

    labels = np.zeros((num_slices, size, size), dtype=np.uint8)
    signal = np.zeros((num_slices, size, size), dtype=np.float32)
    for k in range(num_slices):
        z_centre = shape.first_slice_z + k * sz
        sig_sum = np.zeros((size * f, size * f), dtype=np.float32)
        votes = np.zeros((5, size * f, size * f), dtype=np.uint8)
        for m in range(f):  # sub-slices through the slice thickness
            z = z_centre + ((m + 0.5) / f - 0.5) * sz
            tissue = _tissue_plane(z, r, theta, x, y, shape, sectors, wall_mod, body)
            sig_sum += SIGNAL[tissue] * np.where(tissue == BODY, texture, 1.0)
            emidec = TO_EMIDEC[tissue]
            for label in range(5):
                votes[label] += emidec == label
        signal[k] = _block_mean(sig_sum, f) / f
        labels[k] = np.stack([_block_mean(v, f) for v in votes]).argmax(axis=0)
    image = _acquire(signal, intensity, noise, rng)
    study = _study(image, (sx, sy, sz), shape, size, seed, intensity, reverse_slices)
    if reverse_slices:
        labels = labels[::-1].copy()
    return study, labels


def write_phantom(out_dir: Path | str, seed: int = 0, **kwargs: object) -> list[Path]:
    """Write phantom.nii.gz and phantom_labels.nii.gz (ground truth, EMIDEC labels) into out_dir."""
    from .io.image_file import write_volume

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    study, labels = make_phantom(seed, **kwargs)  # type: ignore[arg-type]
    return [
        write_volume(out / "phantom.nii.gz", study.image, study),
        write_volume(out / "phantom_labels.nii.gz", labels, study),
    ]


@dataclass(frozen=True)
class _Sectors:
    transmural: tuple[float, float]  # centre angle, half width (rad)
    no_reflow: tuple[float, float]
    subendo: tuple[float, float]
    subendo_depth: float  # fraction of the wall from the endocardium
    no_reflow_depth: float


def _random_sectors(rng: np.random.Generator) -> _Sectors:
    deg = np.deg2rad
    t_centre = deg(-125.0 + rng.uniform(-10, 10))  # anteroseptal (image top-left)
    return _Sectors(
        transmural=(t_centre, deg(45.0 + rng.uniform(-5, 5))),
        no_reflow=(t_centre + deg(rng.uniform(-5, 5)), deg(14.0 + rng.uniform(-3, 3))),
        subendo=(deg(55.0 + rng.uniform(-10, 10)), deg(32.0 + rng.uniform(-5, 5))),
        subendo_depth=0.4 + rng.uniform(-0.05, 0.05),
        no_reflow_depth=0.5 + rng.uniform(-0.05, 0.05),
    )


def _in_sector(theta: np.ndarray, sector: tuple[float, float]) -> np.ndarray:
    centre, half = sector
    return np.abs(np.angle(np.exp(1j * (theta - centre)))) <= half


def _sector_masks(theta: np.ndarray, sectors: _Sectors) -> dict[str, np.ndarray | float]:
    """Angular masks computed once (the LV axis is the stack normal, so they hold for every z)."""
    return {
        "transmural": _in_sector(theta, sectors.transmural),
        "no_reflow": _in_sector(theta, sectors.no_reflow),
        "subendo": _in_sector(theta, sectors.subendo),
        "fat": _in_sector(theta, (np.deg2rad(100.0), np.deg2rad(35.0))),
        "subendo_depth": sectors.subendo_depth,
        "no_reflow_depth": sectors.no_reflow_depth,
    }


def _radius(z: float, r0: float, z_eq: float, z_apex: float, z_top: float) -> float:
    """Radius of a cylinder above z_eq tapering as an ellipse to 0 at z_apex."""
    if z > z_top or z <= z_apex:
        return 0.0
    if z >= z_eq:
        return r0
    return r0 * float(np.sqrt(max(0.0, 1.0 - ((z - z_eq) / (z_apex - z_eq)) ** 2)))


def _tissue_plane(
    z: float,
    r: np.ndarray,
    theta: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    shape: PhantomShape,
    sectors: dict[str, np.ndarray | float],
    wall_mod: np.ndarray,
    body: np.ndarray,
) -> np.ndarray:
    tissue = body.copy()
    r_endo = _radius(z, shape.endo_radius, shape.z_equator, shape.z_apex_endo, shape.z_top)
    r_epi_0 = _radius(
        z, shape.endo_radius + shape.wall, shape.z_equator, shape.z_apex_epi, shape.z_top
    )
    if r_epi_0 <= 0:
        return tissue
    wall = np.maximum(r_epi_0 - r_endo, 1.0) * wall_mod
    r_epi = r_endo + wall
    if z > -55.0:  # RV: a crescent on the septal side, shorter than the LV
        rv = ((x + r_epi_0 + 8.0) / 20.0) ** 2 + ((y + 4.0) / 34.0) ** 2 <= 1.0
        rv_wall = ((x + r_epi_0 + 8.0) / 23.0) ** 2 + ((y + 4.0) / 37.0) ** 2 <= 1.0
        tissue[rv_wall] = RV_WALL
        tissue[rv & (r > r_epi_0 + 1.5)] = RV_BLOOD
    fat = (r > r_epi) & (r <= r_epi + 2.5) & sectors["fat"]
    tissue[fat] = FAT
    myo = r <= r_epi
    tissue[myo] = MYO
    tissue[r <= r_endo] = LV_BLOOD
    depth = (r - r_endo) / wall  # 0 at the endocardium, 1 at the epicardium
    in_wall = myo & (r > r_endo)
    if z < -15.0:
        tissue[in_wall & sectors["transmural"]] = SCAR
        if -68.0 < z < -30.0:
            core = in_wall & sectors["no_reflow"] & (depth <= sectors["no_reflow_depth"])
            tissue[core] = NO_REFLOW
    if -45.0 < z < 5.0:
        tissue[in_wall & sectors["subendo"] & (depth <= sectors["subendo_depth"])] = SCAR
    return tissue


def _body(n: int, rng: np.random.Generator) -> np.ndarray:
    """Chest (body tissue) with two lungs; air outside. Index grid of the high-res plane."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n - 0.5
    tissue = np.full((n, n), AIR, dtype=np.uint8)
    tissue[(xx / 0.46) ** 2 + (yy / 0.36) ** 2 <= 1.0] = BODY
    for side in (-1.0, 1.0):
        cx = side * 0.27 + rng.uniform(-0.02, 0.02)
        tissue[((xx - cx) / 0.13) ** 2 + ((yy + 0.02) / 0.22) ** 2 <= 1.0] = LUNG
    return tissue


def _texture(n: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative texture (0.6-1.6) so body tissue is not flat like a cartoon."""
    field = ndimage.gaussian_filter(rng.standard_normal((n // 8, n // 8)).astype(np.float32), 2.0)
    field = ndimage.zoom(field / (field.std() + 1e-6), 8, order=1)[:n, :n]
    return np.clip(1.0 + 0.3 * field, 0.6, 1.6).astype(np.float32)


def _block_mean(plane: np.ndarray, f: int) -> np.ndarray:
    n = plane.shape[0] // f
    return plane.reshape(n, f, n, f).mean(axis=(1, 3), dtype=np.float32)


def _acquire(
    signal: np.ndarray, intensity: str, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """Coil shading, then noise: Rician for magnitude, Gaussian around an offset for EMIDEC-like."""
    n = signal.shape[-1]
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n - 0.5
    shading = 1.0 + 0.25 * xx - 0.15 * yy  # receive-coil sensitivity falls across the chest
    s = signal * shading[None]
    if intensity == "magnitude":
        scale = 1000.0
        re = s * scale + rng.normal(0, noise * scale, s.shape)
        im = rng.normal(0, noise * scale, s.shape)
        return np.hypot(re, im).astype(np.float32)
    scale = 500.0  # offset 2048 and a small scale: infarct ~1.2x normal myocardium in raw values
    out = 2048.0 + s * scale + rng.normal(0, noise * scale, s.shape)
    return np.clip(out, 0.0, 4095.0).astype(np.float32)


def _study(
    image: np.ndarray,
    spacing: tuple[float, float, float],
    shape: PhantomShape,
    size: int,
    seed: int,
    intensity: str,
    reverse: bool,
) -> Study:
    """Oblique short-axis geometry: k grows from apex to base (or the reverse if asked).

    As in the usual short-axis view: image right (+i) = patient left (lateral wall), image
    down (+j) = posterior-inferior, so the RV (image left) is on the patient's right.
    """
    k_axis = -_APEX_LPS / np.linalg.norm(_APEX_LPS)  # towards the base
    i_axis = np.array([1.0, 0.0, 0.0]) - k_axis[0] * k_axis  # patient left, in the slice plane
    i_axis /= np.linalg.norm(i_axis)
    j_axis = np.cross(k_axis, i_axis)  # right-handed (i, j, k)
    in_plane_half = (size - 1) / 2.0
    first = (
        _HEART_CENTRE_LPS
        - in_plane_half * (spacing[0] * i_axis + spacing[1] * j_axis)
        + shape.first_slice_z * k_axis
    )
    num = image.shape[0]
    order = np.arange(num)
    if reverse:
        image = image[::-1].copy()
        first = first + (num - 1) * spacing[2] * k_axis
        k_axis = -k_axis
        order = order[::-1].copy()
    return Study(
        image=image,
        spacing=spacing,
        origin=tuple(float(v) for v in first),
        direction=np.column_stack([i_axis, j_axis, k_axis]),
        name=f"synthetic phantom (seed {seed}), not patient data",
        source="synthetic",
        apex_to_base=order,
        slice_order_basis="synthetic phantom (known apex to base order)",
        metadata={
            "synthetic": "yes: made-up heart, not patient data",
            "intensity": intensity,
            "labels": "EMIDEC: 0 background, 1 blood pool, 2 normal myocardium, 3 scar, 4 no-reflow",
        },
    )
