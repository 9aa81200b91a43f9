"""Slice geometry (positions, slabs, apex/mid/base regions, apex cap) and the per-slice table.

Slab rule (used by every volume in this package): the area of a slice stands for the slab between
the midpoints to its neighbouring slice centres, so a slice's slab is the slice spacing (distance
between centres), not its thickness. Gaps between thin slices are filled by the nearest slice
(nearest-neighbour interpolation along the long axis) and overlapping slices are not counted twice.
The two end slices get the distance to their only neighbour (one spacing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .table import Column, Table
from .transmurality import N_CHORDS, chord_fractions, chord_samples, chord_summary, lv_centre

REGIONS = ("apex", "mid", "base")


def slice_order(n_slices: int, apex_to_base: Sequence[int] | np.ndarray | None) -> np.ndarray:
    """Slice indices from apex to base; the input order when not given. Must list every slice."""
    if apex_to_base is None:
        return np.arange(n_slices)
    order = np.asarray(apex_to_base, dtype=int).ravel()
    if sorted(order.tolist()) != list(range(n_slices)):
        raise ValueError(f"apex_to_base must list each of the {n_slices} slices once, got {order}")
    return order


def slice_positions_mm(
    n_slices: int, spacing_k: float, positions_mm: Sequence[float] | np.ndarray | None = None
) -> np.ndarray:
    """Position of each slice k along the stack normal (mm): given positions, else k x spacing."""
    if positions_mm is None:
        return np.arange(n_slices, dtype=float) * float(spacing_k)
    pos = np.asarray(positions_mm, dtype=float).ravel()
    if pos.size != n_slices:
        raise ValueError(f"positions_mm has {pos.size} values for {n_slices} slices")
    return pos


def slab_thickness_mm(positions: np.ndarray, spacing_k: float) -> np.ndarray:
    """Slab each slice k represents (see module doc): half the distance between its neighbours."""
    n = positions.size
    if n == 1:
        return np.array([float(spacing_k)])
    order = np.argsort(positions)
    p = positions[order]
    gaps = np.diff(p)
    slab_sorted = np.empty(n)
    slab_sorted[0], slab_sorted[-1] = gaps[0], gaps[-1]
    slab_sorted[1:-1] = 0.5 * (gaps[:-1] + gaps[1:])
    slab = np.empty(n)
    slab[order] = slab_sorted
    return slab


def cavity_mask(myocardium: np.ndarray, blood_pool: np.ndarray | None = None) -> np.ndarray:
    """LV cavity per slice: the area enclosed by the myocardium (papillary muscles included) plus the
    blood pool mask when one is given (it also covers basal slices whose ring is open)."""
    myo = np.asarray(myocardium, bool)
    cav = np.zeros_like(myo)
    for k in range(myo.shape[0]):
        if myo[k].any():
            cav[k] = ndimage.binary_fill_holes(myo[k]) & ~myo[k]
    if blood_pool is not None:
        cav |= np.asarray(blood_pool, bool) & ~myo
    return cav


def apex_cap_slices(myocardium: np.ndarray, cavity: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Slices (bool per k) beyond the end of the LV cavity: myocardium without cavity, contiguous
    from the apical end (AHA segment 17). Never all covered slices: then the cavity is unknown."""
    has_myo = myocardium.any(axis=(1, 2))
    has_cav = cavity.any(axis=(1, 2))
    cap = np.zeros(myocardium.shape[0], bool)
    for k in order:
        if not has_myo[k]:
            continue
        if has_cav[k]:
            break
        cap[k] = True
    if cap.sum() == has_myo.sum():
        cap[:] = False
    return cap


def slice_regions(
    covered: np.ndarray, cap: np.ndarray, order: np.ndarray, positions: np.ndarray, slab: np.ndarray
) -> list[str | None]:
    """Region per slice k: thirds of the covered long axis (slab edges of the apex-most and base-most
    non-cap covered slices), by slice-centre position; apex cap slices are "apex"; None uncovered."""
    regions: list[str | None] = [None] * covered.size
    body = [k for k in order if covered[k] and not cap[k]]
    if not body:
        return regions
    # Coordinate along the apex -> base direction.
    sign = 1.0 if len(body) < 2 or positions[body[-1]] >= positions[body[0]] else -1.0
    s = sign * positions
    start = s[body[0]] - 0.5 * slab[body[0]]
    end = s[body[-1]] + 0.5 * slab[body[-1]]
    length = end - start
    for k in body:
        t = (s[k] - start) / length if length > 0 else 0.5
        regions[k] = REGIONS[min(int(t * 3), 2)]
    for k in np.flatnonzero(cap):
        regions[k] = "apex"
    return regions


@dataclass
class SliceGeometry:
    """Per-slice geometry shared by the tables (arrays indexed by slice k)."""

    order: np.ndarray  # slice indices, apex to base
    positions: np.ndarray  # mm along the stack normal
    slab: np.ndarray  # mm each slice's area stands for (module doc)
    pixel_spacing: tuple[float, float]  # (row, col) mm = (spacing_j, spacing_i)
    covered: np.ndarray  # bool: slice has myocardium
    cavity: np.ndarray  # 3D bool LV cavity (cavity_mask)
    cap: np.ndarray  # bool: apex cap slice
    regions: list[str | None]
    centres: list[tuple[float, float] | None]  # LV centre (row, col)

    @property
    def pixel_area_mm2(self) -> float:
        return self.pixel_spacing[0] * self.pixel_spacing[1]

    def area_mm2(self, mask: np.ndarray) -> np.ndarray:
        """Area of a 3D mask in each slice k."""
        return np.count_nonzero(mask, axis=(1, 2)) * self.pixel_area_mm2

    def volume_ml(self, mask: np.ndarray) -> float:
        """Slab-rule volume of a 3D mask (module doc)."""
        return float((self.area_mm2(mask) * self.slab).sum() / 1000.0)


def get_mask(
    masks: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...]
) -> np.ndarray | None:
    """Bool mask `name`, or None when absent; raises when it does not match the image grid."""
    m = masks.get(name)
    if m is None:
        return None
    m = np.asarray(m).astype(bool, copy=False)
    if m.shape != tuple(shape):
        raise ValueError(f"mask {name!r} has shape {m.shape}, image grid is {tuple(shape)}")
    return m


def slice_geometry(
    masks: Mapping[str, np.ndarray],
    spacing: Sequence[float],
    apex_to_base: Sequence[int] | np.ndarray | None = None,
    positions_mm: Sequence[float] | np.ndarray | None = None,
) -> SliceGeometry:
    """Geometry from "Myocardium" (required) and "Blood pool" (optional); spacing is (i, j, k) mm."""
    if "Myocardium" not in masks:
        raise ValueError("a 'Myocardium' mask is required")
    myo = np.asarray(masks["Myocardium"]).astype(bool, copy=False)
    if myo.ndim != 3:
        raise ValueError(f"masks must be 3D (k, j, i), got shape {myo.shape}")
    bp = get_mask(masks, "Blood pool", myo.shape)
    n = myo.shape[0]
    order = slice_order(n, apex_to_base)
    positions = slice_positions_mm(n, spacing[2], positions_mm)
    slab = slab_thickness_mm(positions, spacing[2])
    covered = myo.any(axis=(1, 2))
    cavity = cavity_mask(myo, bp)
    cap = apex_cap_slices(myo, cavity, order)
    regions = slice_regions(covered, cap, order, positions, slab)
    centres = [lv_centre(myo[k], None if bp is None else bp[k]) for k in range(n)]
    pixel = (float(spacing[1]), float(spacing[0]))
    return SliceGeometry(order, positions, slab, pixel, covered, cavity, cap, regions, centres)


def geometry_and_myocardium(
    masks: Mapping[str, np.ndarray],
    spacing: Sequence[float],
    apex_to_base: Sequence[int] | np.ndarray | None,
    positions_mm: Sequence[float] | np.ndarray | None,
    geometry: SliceGeometry | None,
) -> tuple[SliceGeometry, np.ndarray]:
    """The given geometry (or one from the masks) and the myocardium mask on its grid."""
    g = geometry or slice_geometry(masks, spacing, apex_to_base, positions_mm)
    return g, get_mask(masks, "Myocardium", g.cavity.shape)


def scar_in_myocardium(masks: Mapping[str, np.ndarray], myo: np.ndarray, table: str) -> np.ndarray:
    """The "Scar" mask restricted to the myocardium; raises naming `table` when it is absent."""
    scar = get_mask(masks, "Scar", myo.shape)
    if scar is None:
        raise ValueError(f"{table} needs a 'Scar' mask")
    return scar & myo


def snake(name: str) -> str:
    """Segment name -> column stem: "Gray zone" -> "gray_zone", "No-reflow" -> "no_reflow"."""
    return name.lower().replace(" ", "_").replace("-", "_")


def _area_col(name: str, what: str) -> Column:
    return Column(name, "double", "mm2", f"{what} area in the slice")


def slice_columns(with_scar: bool, extra: Sequence[str], n_chords: int = N_CHORDS) -> list[Column]:
    """Columns of the slice table; scar columns (and `extra` segment areas) only with a scar."""
    cols = [
        Column("slice_index", "int", "", "slice index k in the input volume"),
        Column("apex_to_base_rank", "int", "", "rank of the slice from apex (0) to base"),
        Column("position_mm", "double", "mm", "slice centre along the stack normal"),
        Column(
            "slab_mm",
            "double",
            "mm",
            "slab the slice area stands for in volumes: half the distance between its neighbours' centres (slice spacing), gaps filled by the nearest slice",
        ),
        Column(
            "region",
            "string",
            "",
            "apex / mid / base: thirds of the long axis covered by myocardium (apex cap slices are apex); empty without myocardium",
        ),
        Column(
            "apex_cap", "bit", "", "1 when the slice lies beyond the LV cavity (AHA segment 17)"
        ),
        _area_col("myocardium_area_mm2", "myocardium (scar included)"),
        _area_col("lv_cavity_area_mm2", "LV cavity (enclosed by the myocardium, or blood pool)"),
        Column(
            "wall_thickness_mean_mm",
            "double",
            "mm",
            f"mean radial wall thickness over {n_chords} chords from the LV centre",
        ),
    ]
    if with_scar:
        cols += [
            _area_col("scar_area_mm2", "scar (enhanced, no-reflow included)"),
            Column("scar_pct", "double", "%", "scar area / myocardium area in the slice"),
        ]
        cols += [_area_col(f"{snake(n)}_area_mm2", n) for n in extra]
        cols += [
            Column(
                "transmurality_mean",
                "double",
                "fraction",
                f"mean enhanced/wall length over the chords (of {n_chords} from the LV centre) that cross scar",
            ),
            Column(
                "transmurality_max",
                "double",
                "fraction",
                "largest chord transmurality in the slice",
            ),
            Column(
                "scar_extent_pct",
                "double",
                "%",
                "circumferential extent: % of wall-crossing chords that cross scar",
            ),
        ]
    return cols


def slice_table(
    masks: Mapping[str, np.ndarray],
    spacing: Sequence[float],
    apex_to_base: Sequence[int] | np.ndarray | None = None,
    positions_mm: Sequence[float] | np.ndarray | None = None,
    n_chords: int = N_CHORDS,
    geometry: SliceGeometry | None = None,
) -> Table:
    """One row per slice, apex to base. Scar columns only when a "Scar" mask is given."""
    g, myo = geometry_and_myocardium(masks, spacing, apex_to_base, positions_mm, geometry)
    shape = myo.shape
    scar = get_mask(masks, "Scar", shape)
    extra = [
        (name, get_mask(masks, name, shape)) for name in ("Core scar", "Gray zone", "No-reflow")
    ]
    extra = [(name, m) for name, m in extra if m is not None and scar is not None]
    table = Table("slices", slice_columns(scar is not None, [n for n, _ in extra], n_chords))
    areas = {
        "myocardium_area_mm2": g.area_mm2(myo),
        "lv_cavity_area_mm2": g.area_mm2(g.cavity),
    }
    if scar is not None:
        areas["scar_area_mm2"] = g.area_mm2(scar & myo)
        for n, m in extra:
            areas[f"{snake(n)}_area_mm2"] = g.area_mm2(m)
    for rank, k in enumerate(g.order):
        row = {
            "slice_index": int(k),
            "apex_to_base_rank": rank,
            "position_mm": float(g.positions[k]),
            "slab_mm": float(g.slab[k]),
            "region": g.regions[k],
            "apex_cap": int(g.cap[k]),
        }
        row.update({name: float(a[k]) for name, a in areas.items()})
        if g.covered[k]:
            samples = chord_samples(myo[k], g.centres[k], g.pixel_spacing, n_chords)
            wall = samples.lengths(myo[k])
            row["wall_thickness_mean_mm"] = (
                float(wall[wall > 0].mean()) if (wall > 0).any() else None
            )
            if scar is not None:
                row["scar_pct"] = (
                    100.0 * areas["scar_area_mm2"][k] / areas["myocardium_area_mm2"][k]
                )
                row.update(chord_summary(chord_fractions(samples, myo[k], scar[k])))
        table.add_row(**row)
    return table
