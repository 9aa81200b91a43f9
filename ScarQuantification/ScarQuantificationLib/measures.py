"""Clinical measures (one row): volumes, masses, scar burden, LV cavity, slices used.

Volumes follow the slab rule of slices.py: sum over slices of area x the slice's slab (the distance
between neighbouring slice centres, i.e. the slice spacing), so a gap between thin slices is filled
by the nearest slice and the slice thickness itself does not enter. Masses use a myocardial density
of 1.05 g/ml. Columns exist only for the masks given: no scar mask, no scar columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .core_scar import Thresholds
from .slices import SliceGeometry, get_mask, slice_geometry, snake
from .table import Column, Table

DENSITY_G_PER_ML = 1.05
_SLAB = "slab rule: sum of slice areas x slice spacing (distance between slice centres); gaps between slices filled by the nearest slice"
# Segment -> what its volume means; scar-derived segments are reported only with "Scar".
_SEGMENTS = {
    "Myocardium": "LV myocardium, scar included",
    "Blood pool": "LV blood pool as segmented",
    "Scar": "scar (enhanced myocardium, no-reflow included)",
    "Core scar": "core (dense) scar, no-reflow included",
    "Gray zone": "gray zone (scar minus core)",
    "No-reflow": "no-reflow (microvascular obstruction)",
}
_MASSES = ("Myocardium", "Scar", "Core scar", "Gray zone", "No-reflow")
_BURDENS = ("Scar", "Core scar", "Gray zone", "No-reflow")


def clinical_measures(
    masks: Mapping[str, np.ndarray],
    spacing: Sequence[float],
    apex_to_base: Sequence[int] | np.ndarray | None = None,
    positions_mm: Sequence[float] | np.ndarray | None = None,
    slice_thickness_mm: float | None = None,
    thresholds: Mapping[str, Thresholds] | None = None,
    lesion_counts: Mapping[str, int] | None = None,
    geometry: SliceGeometry | None = None,
    scar_source: str | None = None,
) -> Table:
    """The measurements table (one row). `thresholds`: {"core": ..., "scar": ...} what the core
    split / threshold scar used, reported as `<prefix>_*` columns; `lesion_counts`: {"3D": n, "2D": n} from lesions.lesion_counts.
    `scar_source`: how a given scar mask was made (e.g. "unet"), a scar_method column when the
    scar was not thresholded here."""
    g = geometry or slice_geometry(masks, spacing, apex_to_base, positions_mm)
    shape = g.cavity.shape
    present = {n: get_mask(masks, n, shape) for n in _SEGMENTS}
    present = {n: m for n, m in present.items() if m is not None}
    if "Scar" not in present:
        present = {n: m for n, m in present.items() if n in ("Myocardium", "Blood pool")}
    myo_ml = g.volume_ml(present["Myocardium"])
    cols = [
        Column("slices_used", "int", "", "slices that contain myocardium"),
        Column(
            "slice_spacing_mm",
            "double",
            "mm",
            "median distance between slice centres (the slab each slice stands for)",
        ),
        Column(
            "pixel_spacing_mm",
            "double",
            "mm",
            "in-plane pixel spacing (row x column, geometric mean)",
        ),
    ]
    row: dict[str, object] = {
        "slices_used": int(g.covered.sum()),
        "slice_spacing_mm": float(np.median(g.slab)),
        "pixel_spacing_mm": float(np.sqrt(g.pixel_area_mm2)),
    }
    if slice_thickness_mm is not None:
        cols.append(
            Column(
                "slice_thickness_mm",
                "double",
                "mm",
                "acquired slice thickness (informative: volumes use the spacing)",
            )
        )
        row["slice_thickness_mm"] = float(slice_thickness_mm)
    for name, mask in present.items():
        stem = snake(name)
        ml = g.volume_ml(mask)
        cols.append(
            Column(f"{stem}_volume_ml", "double", "ml", f"{_SEGMENTS[name]} volume; {_SLAB}")
        )
        row[f"{stem}_volume_ml"] = ml
        if name in _MASSES:
            cols.append(
                Column(
                    f"{stem}_mass_g",
                    "double",
                    "g",
                    f"{_SEGMENTS[name]} mass = volume x {DENSITY_G_PER_ML} g/ml",
                )
            )
            row[f"{stem}_mass_g"] = ml * DENSITY_G_PER_ML
        if name in _BURDENS:
            cols.append(
                Column(
                    f"{stem}_burden_pct",
                    "double",
                    "%",
                    f"{_SEGMENTS[name]} volume / myocardium volume",
                )
            )
            row[f"{stem}_burden_pct"] = 100.0 * ml / myo_ml if myo_ml > 0 else None
    cols.append(
        Column(
            "lv_cavity_volume_ml",
            "double",
            "ml",
            f"LV cavity: area enclosed by the myocardium (papillary muscles and trabeculae included) plus the blood pool mask; {_SLAB}",
        )
    )
    row["lv_cavity_volume_ml"] = g.volume_ml(g.cavity)
    if "Scar" in present and lesion_counts is not None:
        cols += [
            Column("lesions_3d", "int", "", "3D connected scar components (26-connectivity)"),
            Column(
                "lesions_2d",
                "int",
                "",
                "per-slice scar components (8-connectivity), summed over slices",
            ),
        ]
        row["lesions_3d"] = int(lesion_counts["3D"])
        row["lesions_2d"] = int(lesion_counts["2D"])
    if "Scar" in present:
        if scar_source is not None and "scar" not in (thresholds or {}):
            cols.append(Column("scar_method", "string", "", SCAR_SOURCE_DESCRIPTION))
            row["scar_method"] = scar_source
        for prefix, t in (thresholds or {}).items():
            cols += threshold_columns(prefix)
            row.update(threshold_values(prefix, t))
    table = Table("measurements", cols)
    table.add_row(**row)
    return table


SCAR_SOURCE_DESCRIPTION = (
    "how the scar was segmented: unet (U-Net scar head), network (YOLO boxes + LiteMedSAM), "
    "input (given mask, e.g. edited by hand)"
)
_WHAT = {"core": "core scar split of the scar", "scar": "threshold scar from the myocardium"}


def threshold_columns(prefix: str) -> list[Column]:
    """Columns reporting a threshold segmentation; prefix "core" or "scar"."""
    what = _WHAT.get(prefix, prefix)
    return [
        Column(
            f"{prefix}_method",
            "string",
            "",
            f"{what}: the threshold method's name: fwhm-remote (remote + 0.5 (Imax - remote)), "
            "fwhm (0.5 Imax, Amado 2004) or <n>sd (mean_remote + n SD_remote); docs/METRICS.md",
        ),
        Column(
            f"{prefix}_scope",
            "string",
            "",
            "volume: one threshold; slice: remote and Imax measured per slice",
        ),
        Column(
            f"{prefix}_remote_source",
            "string",
            "",
            "how the remote myocardium baseline was measured",
        ),
        Column(
            f"{prefix}_remote_reference",
            "double",
            "intensity",
            "remote baseline used by fwhm-remote (volume level)",
        ),
        Column(
            f"{prefix}_remote_mean",
            "double",
            "intensity",
            "remote centre used by n-SD (volume level)",
        ),
        Column(
            f"{prefix}_remote_sd", "double", "intensity", "remote SD used by n-SD (volume level)"
        ),
        Column(
            f"{prefix}_max_intensity",
            "double",
            "intensity",
            "robust maximum Imax (FWHM: high percentile; volume level)",
        ),
        Column(
            f"{prefix}_threshold",
            "double",
            "intensity",
            "volume-level threshold (per-slice thresholds differ when scope = slice)",
        ),
    ]


def threshold_values(prefix: str, t: Thresholds) -> dict[str, object]:
    return {
        f"{prefix}_method": t.method,
        f"{prefix}_scope": t.scope,
        f"{prefix}_remote_source": t.remote.source,
        f"{prefix}_remote_reference": t.remote.reference,
        f"{prefix}_remote_mean": t.remote.mean,
        f"{prefix}_remote_sd": t.remote.sd,
        f"{prefix}_max_intensity": t.max_intensity,
        f"{prefix}_threshold": t.threshold if np.isfinite(t.threshold) else None,
    }
