"""Per-lesion morphology: 3D connected scar components and per-slice 2D components, one table.

Connectivity: 26 in 3D (scipy full 3x3x3 structure) and 8 in 2D, the same rule in plane. Slices are
10-13 mm apart against ~1.5 mm pixels, so a diagonal step between slices is no farther apart than a
straight one; 26 keeps one infarct that shifts in plane from slice to slice as one lesion.

Rows: `level` = "3D" (one row per 3D component, ids by decreasing volume) or "2D" (one per component
per slice, apex to base, each naming its 3D parent). Shape measures in pixel units (exact for the
usual square in-plane pixels): solidity = area / convex hull area, circularity = 4 pi area /
perimeter^2 with scikit-image's Crofton perimeter (close to 1 for a digital disc at every size, where
the 4-neighbour perimeter gives up to 1.2 for small discs), extent = area / bounding-box area. The
3D row has the 3D solidity and extent (voxel grid; both ratios are unchanged by anisotropic spacing)
and no circularity.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import QhullError
from skimage.measure import regionprops

from .slices import SliceGeometry, geometry_and_myocardium, scar_in_myocardium
from .table import Column, Table
from .transmurality import N_CHORDS, chord_fractions, chord_samples, chord_summary

STRUCTURE_3D = np.ones((3, 3, 3), bool)  # 26-connectivity
STRUCTURE_2D = np.ones((3, 3), bool)  # 8-connectivity


def label_3d(scar: np.ndarray) -> tuple[np.ndarray, int]:
    """26-connected components of a 3D mask, numbered 1..n by decreasing voxel count."""
    lab, n = ndimage.label(np.asarray(scar, bool), STRUCTURE_3D)
    return _by_size(lab, n), n


def label_2d(scar2d: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a 2D mask, numbered 1..n by decreasing pixel count."""
    lab, n = ndimage.label(np.asarray(scar2d, bool), STRUCTURE_2D)
    return _by_size(lab, n), n


def _by_size(lab: np.ndarray, n: int) -> np.ndarray:
    if n == 0:
        return lab
    sizes = np.bincount(lab.ravel())[1:]
    rank = np.empty(n + 1, int)
    rank[0] = 0
    rank[1 + np.argsort(-sizes, kind="stable")] = np.arange(1, n + 1)
    return rank[lab]


def _solidity(p: Any) -> float | None:  # p: one skimage regionprops item
    """area / convex hull area; None when the hull is flat (scikit-image warns and returns 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            hull = float(p.area_convex)
        except (QhullError, ValueError):
            return None
    return float(p.area) / hull if hull > 0 else None


def shape_2d(mask2d: np.ndarray) -> dict[str, float | None]:
    """Solidity, circularity and extent of one 2D component (pixel units)."""
    p = regionprops(np.asarray(mask2d, np.uint8))[0]
    perim = p.perimeter_crofton
    return {
        "solidity": _solidity(p),
        "circularity": float(4 * np.pi * p.area / perim**2) if perim > 0 else None,
        "extent": float(p.extent),
    }


def shape_3d(mask3d: np.ndarray) -> dict[str, float | None]:
    """3D solidity and extent; solidity None when the convex hull is flat (one slice, one line)."""
    p = regionprops(np.asarray(mask3d, np.uint8))[0]
    solidity = _solidity(p) if np.ptp(p.coords[:, 0]) > 0 else None
    return {"solidity": solidity, "circularity": None, "extent": float(p.extent)}


COLUMNS = [
    Column(
        "level",
        "string",
        "",
        "3D = connected component across slices (26-connectivity); 2D = component within one slice (8-connectivity)",
    ),
    Column(
        "lesion",
        "int",
        "",
        "lesion id within its level: 3D by decreasing volume; 2D by slice (apex to base), then decreasing area",
    ),
    Column("parent_3d", "int", "", "2D rows: id of the 3D lesion that contains the component"),
    Column("slice_index", "int", "", "2D rows: slice index k"),
    Column(
        "region", "string", "", "apex / mid / base of the slice (2D), or the regions spanned (3D)"
    ),
    Column("n_slices", "int", "", "slices the lesion spans"),
    Column("pixels", "int", "", "voxel count"),
    Column("area_mm2", "double", "mm2", "in-plane area (3D: summed over slices)"),
    Column(
        "volume_ml",
        "double",
        "ml",
        "volume by the slab rule: area x slice spacing, gaps filled by the nearest slice",
    ),
    Column(
        "solidity",
        "double",
        "fraction",
        "area / convex hull area (3D: volume / convex hull volume; empty when the lesion lies in one slice)",
    ),
    Column(
        "circularity", "double", "fraction", "4 pi area / perimeter^2, Crofton perimeter (2D only)"
    ),
    Column(
        "extent",
        "double",
        "fraction",
        "area / bounding box area (3D: volume / bounding box volume)",
    ),
    Column(
        "transmurality_mean",
        "double",
        "fraction",
        "mean lesion length / wall length over the radial chords from the LV centre that cross the lesion",
    ),
    Column("transmurality_max", "double", "fraction", "largest chord transmurality of the lesion"),
]


def _transmurality(fractions: np.ndarray) -> dict[str, float | None]:
    """The lesion table's chord summary columns (it has no circumferential extent)."""
    tm = chord_summary(fractions)
    return {k: tm[k] for k in ("transmurality_mean", "transmurality_max")}


def lesion_table(
    masks: Mapping[str, np.ndarray],
    spacing: Sequence[float],
    apex_to_base: Sequence[int] | np.ndarray | None = None,
    positions_mm: Sequence[float] | np.ndarray | None = None,
    n_chords: int = N_CHORDS,
    geometry: SliceGeometry | None = None,
) -> Table:
    """3D and 2D lesions of "Scar" (restricted to "Myocardium"); requires both masks."""
    g, myo = geometry_and_myocardium(masks, spacing, apex_to_base, positions_mm, geometry)
    scar = scar_in_myocardium(masks, myo, "lesion table")
    lab3, n3 = label_3d(scar)
    samples = {
        int(k): chord_samples(myo[k], g.centres[k], g.pixel_spacing, n_chords)
        for k in np.flatnonzero(scar.any(axis=(1, 2)))
    }
    table = Table("lesions", list(COLUMNS))
    rows_2d = []
    fractions_3d: dict[int, list[np.ndarray]] = {i: [] for i in range(1, n3 + 1)}
    for k in g.order:
        if int(k) not in samples:
            continue
        lab2, n2 = label_2d(scar[k])
        for j in range(1, n2 + 1):
            comp = lab2 == j
            frac = chord_fractions(samples[int(k)], myo[k], comp)
            parent = int(np.bincount(lab3[k][comp]).argmax())
            fractions_3d[parent].append(frac)
            px = int(comp.sum())
            rows_2d.append(
                {
                    "level": "2D",
                    "lesion": len(rows_2d) + 1,
                    "parent_3d": parent,
                    "slice_index": int(k),
                    "region": g.regions[k],
                    "n_slices": 1,
                    "pixels": px,
                    "area_mm2": px * g.pixel_area_mm2,
                    "volume_ml": px * g.pixel_area_mm2 * g.slab[k] / 1000.0,
                    **shape_2d(comp),
                    **_transmurality(frac),
                }
            )
    for i, sl in enumerate(ndimage.find_objects(lab3), start=1):
        comp = lab3 == i
        ks = np.flatnonzero(comp.any(axis=(1, 2)))
        spanned = [r for r in ("apex", "mid", "base") if r in {g.regions[k] for k in ks}]
        table.add_row(
            level="3D",
            lesion=i,
            region=",".join(spanned),
            n_slices=int(ks.size),
            pixels=int(comp.sum()),
            area_mm2=float(g.area_mm2(comp).sum()),
            volume_ml=g.volume_ml(comp),
            **shape_3d(comp[sl]),
            **_transmurality(np.concatenate(fractions_3d[i])),
        )
    for row in rows_2d:
        table.add_row(**row)
    return table


def lesion_counts(table: Table) -> dict[str, int]:
    """Number of 3D and 2D lesions in a lesion table."""
    levels = table.values("level")
    return {"3D": levels.count("3D"), "2D": levels.count("2D")}
