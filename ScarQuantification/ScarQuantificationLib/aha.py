"""AHA 17-segment model: scar % and transmurality per segment.

Levels: basal / mid / apical slices are the base / mid / apex thirds of slices.py; apex cap slices
(myocardium beyond the LV cavity) form segment 17, reported only when covered.

Angles: the AHA angle runs from the anterior RV insertion point towards the septum (counterclockwise
as seen from the apex). Basal and mid rings: 60-degree segments, the anterior insertion being the
border between anterior (1, 7) and anteroseptal (2, 8) and the septum spanning the 120 degrees after
it. Apical ring: four 90-degree segments with the septal one (14) centred on the septum (60 degrees).

Reference, first available of:
1. the user's anterior RV insertion point (its direction from the LV centre of its slice, used on
   every slice);
2. the RV insertion points detected on the LGE image itself (rv_insertion.py), slice by slice: the
   middle of each slice's two insertion points is the septum centre (60 AHA degrees), the same
   convention that puts the anterior insertion at 0 for a 120-degree septum; slices without their
   own arc (apex cap) use the stack's septum direction. Validated against the MyoPS RV labels
   (bench/bench_rv_insertion.py). Which of the two points is anterior follows the turning sense;
3. without an image, an estimate from the patient coordinate system: the septum centre is taken
   SEPTUM_FROM_ANTERIOR_DEG from the anterior direction projected into the slice plane, towards
   the patient's right. On the 25 MyoPS RV labels the middle of the RV blood pool's angular span
   lies a median 23.5 degrees (IQR 18-28, range 7-53) from the projected anterior, which gives the
   constant. EMIDEC's axis-aligned direction carries no cardiac orientation, so there this is a
   guess, and a rotated image moves it.
The turning sense puts the septum towards the patient's right (or, when the slice plane hides
left/right, follows the apex-to-base order): a property of the image's handedness, which rotating
the pixels in plane does not change. The table's `angle_reference` column says which reference
was used and `orientation_confident` whether it is trustworthy (0 for the patient-axes estimate
and for a detection too few slices support): the bullseye then says so in its title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .rv_insertion import RVDetection, detect_rv_insertion
from .slices import SliceGeometry, geometry_and_myocardium, get_mask, scar_in_myocardium
from .table import Column, Table
from .transmurality import N_CHORDS, chord_fractions, chord_samples, chord_summary

SEGMENT_NAMES = {
    1: "basal anterior",
    2: "basal anteroseptal",
    3: "basal inferoseptal",
    4: "basal inferior",
    5: "basal inferolateral",
    6: "basal anterolateral",
    7: "mid anterior",
    8: "mid anteroseptal",
    9: "mid inferoseptal",
    10: "mid inferior",
    11: "mid inferolateral",
    12: "mid anterolateral",
    13: "apical anterior",
    14: "apical septal",
    15: "apical inferior",
    16: "apical lateral",
    17: "apex",
}
LEVEL_OF_REGION = {"base": "basal", "mid": "mid", "apex": "apical"}
_ANTERIOR_LPS = np.array([0.0, -1.0, 0.0])
_RIGHT_LPS = np.array([-1.0, 0.0, 0.0])
# Septum centre from the projected patient anterior, towards the right (calibration: module doc).
SEPTUM_FROM_ANTERIOR_DEG = 25.0


@dataclass(frozen=True)
class AngularReference:
    """In-plane direction of the anterior RV insertion and the sense of the AHA angle."""

    angle: float  # radians, atan2(y_mm, x_mm) with x along i (columns), y along j (rows)
    sense: int  # +1 when the AHA angle grows with the atan2 angle, else -1
    basis: str  # what the reference came from, for the table
    confident: bool = True  # False: an estimate the report must flag
    slice_angles: Mapping[int, float] = field(default_factory=dict)  # per-slice k overrides

    def aha_angle(self, angles: np.ndarray, k: int | None = None) -> np.ndarray:
        """AHA angle in [0, 2 pi): 0 at the insertion, growing towards the septum (slice k's own
        reference when it has one)."""
        ref = self.slice_angles.get(int(k), self.angle) if k is not None else self.angle
        return np.mod(self.sense * (np.asarray(angles, float) - ref), 2 * np.pi)


def segment_of(aha_angle: np.ndarray, level: str) -> np.ndarray:
    """AHA segment numbers for AHA angles (radians) at a level: basal, mid, apical or apex."""
    # Rounding keeps exact boundaries (60 degrees given in radians) on their documented side.
    a = np.mod(np.round(np.degrees(np.asarray(aha_angle, float)), 9), 360.0)
    if level == "apex":
        return np.full(a.shape, 17, int)
    if level == "apical":
        quarter = (np.mod(a - 15.0, 360.0) // 90).astype(int) % 4  # 0 = septal (centred at 60)
        return 13 + (quarter + 1) % 4
    sixth = (a // 60).astype(int) % 6  # 0 = anteroseptal
    first = {"basal": 1, "mid": 7}[level]
    return first + (sixth + 1) % 6


def _in_plane(direction: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.array([v @ direction[:, 0], v @ direction[:, 1]])


def rotation_sense(direction: np.ndarray | None, geometry: SliceGeometry) -> tuple[int, str]:
    """+1/-1 so that turning the anterior direction by +90 AHA degrees reaches the septum."""
    d = np.eye(3) if direction is None else np.asarray(direction, float).reshape(3, 3)
    a, r = _in_plane(d, _ANTERIOR_LPS), _in_plane(d, _RIGHT_LPS)
    cross = a[0] * r[1] - a[1] * r[0]
    if abs(cross) > 0.1:
        return (1 if cross > 0 else -1), "septum towards the patient's right"
    # Left/right hidden in this plane: viewed from the apex, anterior -> septum is counterclockwise.
    first, last = geometry.order[0], geometry.order[-1]
    base_sign = np.sign(geometry.positions[last] - geometry.positions[first]) or 1.0
    apex_dir = -base_sign * d[:, 2]
    normal = np.cross(d[:, 0], d[:, 1])
    return (
        1 if normal @ apex_dir > 0 else -1
    ), "counterclockwise from the apex (apex-to-base order)"


def reference_from_direction(
    direction: np.ndarray | None, geometry: SliceGeometry
) -> AngularReference:
    """Estimated reference: the projected anterior turned SEPTUM_FROM_ANTERIOR_DEG - 60 degrees
    (i.e. 35 degrees away from the septum), see the module doc."""
    d = np.eye(3) if direction is None else np.asarray(direction, float).reshape(3, 3)
    sense, sense_basis = rotation_sense(d, geometry)
    a = _in_plane(d, _ANTERIOR_LPS)
    geo = (
        "identity direction assumed (no geometry given)"
        if direction is None
        else "direction matrix"
    )
    if np.hypot(*a) < 0.2:
        a = np.array([0.0, -1.0])
        geo += "; anterior is almost normal to the slices, image -j used as anterior"
    angle = float(np.arctan2(a[1], a[0]) + sense * np.radians(SEPTUM_FROM_ANTERIOR_DEG - 60.0))
    basis = (
        f"estimated from the patient coordinate system ({geo}; septum centre "
        f"{SEPTUM_FROM_ANTERIOR_DEG:g} deg from anterior; {sense_basis})"
    )
    return AngularReference(angle, sense, basis, confident=False)


def reference_from_detection(
    detection: RVDetection, direction: np.ndarray | None, geometry: SliceGeometry
) -> AngularReference:
    """Reference from RV insertion points detected on the image: each slice's septum centre (the
    middle of its two insertion points) at 60 AHA degrees; the stack's septum where a slice has
    no arc of its own."""
    sense, sense_basis = rotation_sense(direction, geometry)
    turn = sense * np.radians(60.0)
    per_slice = {k: float(arc.centre - turn) for k, arc in detection.arcs.items()}
    confident = detection.confident
    doubts = "; ".join(detection.doubts())
    basis = (
        f"RV insertion points detected on the LGE image ({detection.summary()} support it; "
        f"septum centre midway between them; {sense_basis})"
        + ("" if confident else f"; NOT CONFIDENT, check the orientation: {doubts}")
    )
    return AngularReference(
        float(detection.septum - turn), sense, basis, confident, slice_angles=per_slice
    )


def angular_reference(
    masks: Mapping[str, np.ndarray],
    geometry: SliceGeometry,
    myocardium: np.ndarray,
    image: np.ndarray | None = None,
    direction: np.ndarray | None = None,
    rv_insertion: Sequence[float] | None = None,
    rv_insertion_space: str = "ijk",
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    origin: Sequence[float] | None = None,
) -> AngularReference:
    """The AHA reference (module doc): the user's point, else detection on `image`, else the
    patient axes."""
    if rv_insertion is not None:
        ijk = point_to_ijk(rv_insertion, rv_insertion_space, spacing, origin, direction)
        return reference_from_point(ijk, direction, geometry)
    if image is not None:
        scar = get_mask(masks, "Scar", myocardium.shape)
        detection = detect_rv_insertion(image, myocardium, geometry, scar)
        if detection is not None:
            return reference_from_detection(detection, direction, geometry)
    return reference_from_direction(direction, geometry)


def point_to_ijk(
    point: Sequence[float],
    space: str,
    spacing: Sequence[float],
    origin: Sequence[float] | None = None,
    direction: np.ndarray | None = None,
) -> np.ndarray:
    """Continuous (i, j, k) index of a point given in "ijk", "lps" or "ras" (mm) coordinates."""
    p = np.asarray(point, float).ravel()
    space = space.lower()
    if space == "ijk":
        return p
    if space not in ("lps", "ras"):
        raise ValueError(f"point space {space!r}: use 'ijk', 'lps' or 'ras'")
    if space == "ras":
        p = p * np.array([-1.0, -1.0, 1.0])
    d = np.eye(3) if direction is None else np.asarray(direction, float).reshape(3, 3)
    o = np.zeros(3) if origin is None else np.asarray(origin, float)
    return np.linalg.solve(d @ np.diag(np.asarray(spacing, float)), p - o)


def reference_from_point(
    point_ijk: Sequence[float], direction: np.ndarray | None, geometry: SliceGeometry
) -> AngularReference:
    """Reference from a user-placed anterior RV insertion point (continuous i, j, k)."""
    i, j, k = (float(v) for v in point_ijk)
    covered = np.flatnonzero(geometry.covered)
    if covered.size == 0:
        raise ValueError("no myocardium: the RV insertion point cannot be referred to an LV centre")
    ks = int(covered[np.argmin(np.abs(covered - k))])
    row, col = geometry.centres[ks]
    sy, sx = geometry.pixel_spacing
    x, y = (i - col) * sx, (j - row) * sy
    if np.hypot(x, y) < 1e-6:
        raise ValueError("the RV insertion point lies on the LV centre")
    sense, sense_basis = rotation_sense(direction, geometry)
    basis = f"anterior RV insertion point (user, slice {ks}; {sense_basis})"
    return AngularReference(float(np.arctan2(y, x)), sense, basis)


COLUMNS = [
    Column("segment", "int", "", "AHA segment number (17 = apex cap, only when covered)"),
    Column("name", "string", "", "AHA segment name"),
    Column("n_slices", "int", "", "slices contributing myocardium to the segment"),
    Column("myocardium_ml", "double", "ml", "myocardium volume in the segment (slab rule)"),
    Column("scar_ml", "double", "ml", "scar volume in the segment (slab rule)"),
    Column("scar_pct", "double", "%", "scar volume / myocardium volume in the segment"),
    Column(
        "transmurality_mean",
        "double",
        "fraction",
        "mean enhanced/wall length over the segment's radial chords that cross scar",
    ),
    Column("transmurality_max", "double", "fraction", "largest chord transmurality in the segment"),
    Column(
        "scar_extent_pct", "double", "%", "% of the segment's wall-crossing chords that cross scar"
    ),
    Column(
        "angle_reference",
        "string",
        "",
        "where the angular reference (anterior RV insertion) came from",
    ),
    Column(
        "orientation_confident",
        "bit",
        "",
        "1: user RV insertion point or a confident detection on the image; 0: an estimate "
        "(patient axes, or a detection too few slices support): check the segment orientation",
    ),
]


def aha_table(
    masks: Mapping[str, np.ndarray],
    spacing: Sequence[float],
    apex_to_base: Sequence[int] | np.ndarray | None = None,
    positions_mm: Sequence[float] | np.ndarray | None = None,
    direction: np.ndarray | None = None,
    rv_insertion: Sequence[float] | None = None,
    rv_insertion_space: str = "ijk",
    origin: Sequence[float] | None = None,
    n_chords: int = N_CHORDS,
    geometry: SliceGeometry | None = None,
    image: np.ndarray | None = None,
    reference: AngularReference | None = None,
) -> Table:
    """Per-segment table (segments 1-16, plus 17 when apex cap slices exist); needs "Scar".

    The angular reference (module doc): `reference` when given, else the user's `rv_insertion`,
    else RV insertion points detected on `image` (the LGE stack, (k, j, i)), else the patient axes.
    """
    g, myo = geometry_and_myocardium(masks, spacing, apex_to_base, positions_mm, geometry)
    scar = scar_in_myocardium(masks, myo, "AHA table")
    ref = reference or angular_reference(
        masks, g, myo, image, direction, rv_insertion, rv_insertion_space, spacing, origin
    )
    sy, sx = g.pixel_spacing
    myo_ml = np.zeros(18)
    scar_ml = np.zeros(18)
    slices = np.zeros(18, int)
    fractions: dict[int, list[np.ndarray]] = {s: [] for s in range(1, 18)}
    for k in np.flatnonzero(g.covered):
        level = "apex" if g.cap[k] else LEVEL_OF_REGION[g.regions[k]]
        row, col = g.centres[k]
        rr, cc = np.nonzero(myo[k])
        seg = segment_of(ref.aha_angle(np.arctan2((rr - row) * sy, (cc - col) * sx), k), level)
        voxel_ml = g.pixel_area_mm2 * g.slab[k] / 1000.0
        myo_ml += np.bincount(seg, minlength=18) * voxel_ml
        scar_ml += np.bincount(seg, weights=scar[k][rr, cc], minlength=18) * voxel_ml
        slices[np.unique(seg)] += 1
        samples = chord_samples(myo[k], (row, col), g.pixel_spacing, n_chords)
        frac = chord_fractions(samples, myo[k], scar[k])
        chord_seg = segment_of(ref.aha_angle(samples.angles, k), level)
        for s in np.unique(chord_seg):
            fractions[int(s)].append(frac[chord_seg == s])
    table = Table("aha", list(COLUMNS))
    segments = range(1, 18) if g.cap.any() else range(1, 17)
    for s in segments:
        covered = slices[s] > 0
        tm = chord_summary(np.concatenate(fractions[s])) if fractions[s] else {}
        table.add_row(
            segment=s,
            name=SEGMENT_NAMES[s],
            n_slices=int(slices[s]),
            myocardium_ml=float(myo_ml[s]) if covered else None,
            scar_ml=float(scar_ml[s]) if covered else None,
            scar_pct=100.0 * scar_ml[s] / myo_ml[s] if covered and myo_ml[s] > 0 else None,
            transmurality_mean=tm.get("transmurality_mean"),
            transmurality_max=tm.get("transmurality_max"),
            scar_extent_pct=tm.get("scar_extent_pct"),
            angle_reference=ref.basis,
            orientation_confident=int(ref.confident),
        )
    return table
