"""One call from image + segment masks to every quantification table.

Works on any segmentation (network or hand-made): "Myocardium" is required, everything else is
optional. Without "Scar" (and no `scar_method`), no scar column, lesion or AHA table is produced.
With apex_to_base="auto" the study's slice order is decided here, once, from the geometry and the
LV masks (apex_base.decide_apex_to_base), and returned in the result: the slices table, regions,
AHA table and bullseye all use it, and callers store it (the pipeline on its Study).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .aha import aha_table
from .apex_base import SliceOrder, decide_from_masks
from .core_scar import (
    DEFAULT_METHOD,
    FWHM,
    NoRemoteMyocardium,
    Thresholds,
    core_scar,
    threshold_method,
    threshold_scar,
)
from .lesions import lesion_counts, lesion_table
from .measures import clinical_measures
from .no_reflow import dark_core_no_reflow
from .segments import SEGMENT_NAMES
from .slices import slice_geometry, slice_table
from .table import Table
from .transmurality import N_CHORDS


@dataclass
class QuantificationResult:
    masks: dict[
        str, np.ndarray
    ]  # input masks plus the derived ones ("Core scar", "Gray zone", ...)
    tables: dict[str, Table]  # "measurements", "slices", and with scar "lesions", "aha"
    thresholds: dict[str, Thresholds] = field(default_factory=dict)  # "core" / "scar"
    notes: list[str] = field(default_factory=list)  # what was assumed or skipped, for the report
    apex_to_base: np.ndarray | None = None  # the slice order every table used
    slice_order: SliceOrder | None = None  # how it was decided (apex_to_base="auto")


def quantify(
    image: np.ndarray,
    masks: Mapping[str, np.ndarray],
    spacing: Sequence[float],
    apex_to_base: Sequence[int] | np.ndarray | str | None = None,
    positions_mm: Sequence[float] | np.ndarray | None = None,
    direction: np.ndarray | None = None,
    rv_insertion: Sequence[float] | None = None,
    core_method: str | None = DEFAULT_METHOD,
    *,
    core_per_slice: bool = False,
    scar_method: str | None = None,
    derive_no_reflow: bool = True,
    scar_source: str | None = None,
    scar_per_slice: bool = False,
    rv_insertion_space: str = "ijk",
    origin: Sequence[float] | None = None,
    slice_thickness_mm: float | None = None,
    n_chords: int = N_CHORDS,
    detect_rv_insertion: bool = True,
) -> QuantificationResult:
    """Quantify a segmentation of an LGE stack.

    image (k, j, i); masks keyed by segment names; spacing (i, j, k) mm; apex_to_base slice order,
    "auto" (decided here: module doc) or None (input order); positions_mm slice centres along the
    normal (k order); direction 3x3 (columns = LPS directions of i, j, k); rv_insertion point in
    `rv_insertion_space` ("ijk", "lps" or "ras"; mm spaces need `origin`); without it the AHA
    orientation comes from RV insertion points detected on the image (detect_rv_insertion=True),
    else from the patient axes. core_method: "fwhm-remote", "fwhm", "<n>sd" or None (no core
    split; core_scar.py). scar_method: when "Scar" is absent, segment it by threshold inside the
    myocardium (the same names), no-reflow filled.
    derive_no_reflow: a given "Scar" without "No-reflow" gets its dark enclosed core as
    no-reflow (no_reflow.dark_core_no_reflow; the scar keeps it, as EMIDEC's labels do).
    scar_source: how a given "Scar" was made, reported as the scar_method column.
    """
    image = np.asarray(image, dtype=float)
    if image.ndim != 3:
        raise ValueError(f"image must be 3D (k, j, i), got shape {image.shape}")
    unknown = set(masks) - set(SEGMENT_NAMES)
    if unknown:
        raise ValueError(f"unknown segment names {sorted(unknown)}; expected {SEGMENT_NAMES}")
    out: dict[str, np.ndarray] = {}
    for name, m in masks.items():
        m = np.asarray(m).astype(bool, copy=False)
        if m.shape != image.shape:
            raise ValueError(f"mask {name!r} has shape {m.shape}, image is {image.shape}")
        out[name] = m
    if "Myocardium" not in out:
        raise ValueError("a 'Myocardium' mask is required")
    result = QuantificationResult(out, {})
    if "Scar" in out and (out["Scar"] & ~out["Myocardium"]).any():
        # By convention the myocardium includes the scar; a hand-drawn scar may overflow it.
        out["Myocardium"] = out["Myocardium"] | out["Scar"]
        result.notes.append("scar voxels outside the myocardium were added to the myocardium")
    if "Scar" not in out and scar_method is not None:
        ts = threshold_scar(image, out["Myocardium"], scar_method, per_slice=scar_per_slice)
        out["Scar"], out["No-reflow"] = ts.scar, ts.no_reflow
        result.thresholds["scar"] = ts.thresholds
        result.notes.append(f"scar segmented by {ts.thresholds.method} threshold in the myocardium")
        _check_fwhm_baseline("scar", ts.thresholds, result)
    if "Scar" in out and "No-reflow" not in out and derive_no_reflow:
        # a network's (or hand-drawn) scar includes the dark no-reflow core: split it off
        out["No-reflow"] = dark_core_no_reflow(image, out["Myocardium"], out["Scar"])
        result.notes.append("no-reflow = dark core enclosed by the scar (no_reflow.py rule)")
    if "Scar" in out:
        _add_core(image, out, core_method, core_per_slice, result)

    if isinstance(apex_to_base, str):
        if apex_to_base != "auto":
            raise ValueError(
                f"apex_to_base must be a slice order, 'auto' or None, not {apex_to_base!r}"
            )
        lv = out["Myocardium"] | out.get("Blood pool", False)
        result.slice_order = decide_from_masks(direction, lv, positions_mm)
        apex_to_base = result.slice_order.order
        result.notes.append(result.slice_order.note)
    g = slice_geometry(out, spacing, apex_to_base, positions_mm)
    result.apex_to_base = g.order
    tables = result.tables
    counts = None
    if "Scar" in out:
        tables["lesions"] = lesion_table(out, spacing, n_chords=n_chords, geometry=g)
        counts = lesion_counts(tables["lesions"])
    tables["measurements"] = clinical_measures(
        out,
        spacing,
        slice_thickness_mm=slice_thickness_mm,
        thresholds=result.thresholds,
        lesion_counts=counts,
        geometry=g,
        scar_source=scar_source,
    )
    tables["slices"] = slice_table(out, spacing, n_chords=n_chords, geometry=g)
    if "Scar" in out:
        tables["aha"] = aha_table(
            out,
            spacing,
            direction=direction,
            rv_insertion=rv_insertion,
            rv_insertion_space=rv_insertion_space,
            origin=origin,
            n_chords=n_chords,
            geometry=g,
            image=image if detect_rv_insertion else None,
        )
        aha = tables["aha"].rows[0]
        result.notes.append(f"AHA orientation: {aha['angle_reference']}")
    # Stable order: measurements, slices, lesions, aha.
    result.tables = {
        k: tables[k] for k in ("measurements", "slices", "lesions", "aha") if k in tables
    }
    return result


def _add_core(
    image: np.ndarray,
    masks: dict[str, np.ndarray],
    method: str | None,
    per_slice: bool,
    result: QuantificationResult,
) -> None:
    if "Core scar" in masks and "Gray zone" in masks:
        result.notes.append("core scar and gray zone taken from the input masks")
        return
    if method is None:
        return
    try:
        cs = core_scar(
            image,
            masks["Myocardium"],
            masks["Scar"],
            method,
            per_slice=per_slice,
            no_reflow=masks.get("No-reflow"),
        )
    except NoRemoteMyocardium as e:
        result.notes.append(f"no core scar split: {e}")
        return
    masks["Core scar"], masks["Gray zone"] = cs.core, cs.gray_zone
    result.thresholds["core"] = cs.thresholds
    _check_fwhm_baseline("core", cs.thresholds, result)


def _check_fwhm_baseline(what: str, t: Thresholds, result: QuantificationResult) -> None:
    """The literature FWHM (half the maximum) presumes a zero baseline: say so when it fails."""
    if threshold_method(t.method).kind == FWHM and t.threshold <= t.remote.reference:
        result.notes.append(
            f"fwhm {what} threshold {t.threshold:.4g} is not above the remote myocardium "
            f"({t.remote.reference:.4g}): the image carries an intensity offset (phase-sensitive-"
            "like), so half the maximum selects everything; use fwhm-remote"
        )
