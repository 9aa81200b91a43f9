"""Validation: compare predicted label maps with reference labels, per patient and per slice.

Predictions are label maps in any supported convention (our `scarseg run` folders hold
`labels.nii.gz`, EMIDEC convention); references may be EMIDEC (`Case_X/Contours/Case_X.nii.gz`),
MyoPS (`CaseNNNN_gd.nii.gz`) or any label map with a user mapping (see label_maps). Metric
conventions are those of `metrics` (docs/METRICS.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics as m
from .apex_base import decide_apex_to_base
from .evaluate_io import (
    CaseFiles,
    GridMismatchError,
    check_same_grid,
    pair_cases,
    probability_paths,
)
from .label_maps import LabelMap, read_image, read_label_map, to_masks
from .table import Column, Table

__all__ = [
    "CaseFiles",
    "EvaluationResult",
    "GridMismatchError",
    "apex_to_base_order",
    "check_same_grid",
    "evaluate",
    "evaluate_case",
    "slice_regions",
]

REGIONS = ("apex", "mid", "base")
TISSUES = ("Myocardium", "Scar", "No-reflow")  # structures that have a mass and a burden
SCAR_LIKE = ("Scar", "No-reflow")  # judged inside the myocardium (balanced accuracy, Brier)

_KEYS = [
    Column("case", "string", "", "case name (pairs prediction and reference)"),
    Column("structure", "string", "", "Myocardium (scar included), Blood pool, Scar, No-reflow"),
]
_AGREEMENT = [
    Column("dice", "double", "", "Dice coefficient (1 if both empty, 0 if one is)"),
    Column(
        "hausdorff", "double", "mm", "symmetric surface Hausdorff distance (empty if one empty)"
    ),
    Column("hd95", "double", "mm", "95th percentile surface Hausdorff distance"),
    Column("area_similarity", "double", "", "1 - ||Y|-|T|| / (|Y|+|T|) on pixel counts"),
    Column("perimeter_similarity", "double", "", "area similarity on in-plane boundary pixels"),
    Column("balanced_accuracy", "double", "", "(sensitivity + specificity) / 2 in the region"),
    Column("brier", "double", "", "mean squared error of the predicted probability"),
]
_BURDEN = [
    Column("pred_burden", "double", "%", "predicted structure as % of predicted myocardium"),
    Column("ref_burden", "double", "%", "reference structure as % of reference myocardium"),
    Column("burden_difference", "double", "%", "predicted - reference burden"),
]
PATIENT_COLUMNS = [
    _KEYS[0],
    Column("region", "string", "", "all, or apex/mid/base thirds of the reference's slices"),
    _KEYS[1],
    Column("slices", "int", "", "number of slices in the region"),
    *_AGREEMENT,
    Column("pred_volume", "double", "ml", "predicted volume"),
    Column("ref_volume", "double", "ml", "reference volume"),
    Column("volume_difference", "double", "ml", "predicted - reference volume"),
    Column("pred_mass", "double", "g", "predicted mass (1.05 g/ml; tissue structures only)"),
    Column("ref_mass", "double", "g", "reference mass (1.05 g/ml)"),
    Column("mass_difference", "double", "g", "predicted - reference mass"),
    *_BURDEN,
]
SLICE_COLUMNS = [
    _KEYS[0],
    Column("slice", "int", "", "slice index k in the volume"),
    Column("region", "string", "", "apex/mid/base, or outside the reference's slices"),
    _KEYS[1],
    *_AGREEMENT,
    Column("pred_area", "double", "mm2", "predicted area in the slice"),
    Column("ref_area", "double", "mm2", "reference area in the slice"),
    Column("area_difference", "double", "mm2", "predicted - reference area"),
    *_BURDEN,
]


@dataclass
class EvaluationResult:
    patients: Table
    slices: Table
    cases: dict[str, str] = field(default_factory=dict)  # case -> slice-order basis
    unmatched_predictions: list[str] = field(default_factory=list)
    unmatched_references: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def apex_to_base_order(
    lv_area: np.ndarray, direction: np.ndarray, order: str = "auto"
) -> tuple[np.ndarray, str]:
    """Slice indices from apex to base and how that was decided.

    order: "increasing" (k grows toward the base), "decreasing", or "auto": the one rule of
    apex_base.decide_apex_to_base on the reference LV area (blood pool + myocardium) and the
    direction (decisive anatomy first, else an oblique geometry, else the weak trend).
    """
    n = len(lv_area)
    k = np.arange(n)
    if order == "increasing":
        return k, "given: k increases toward the base"
    if order == "decreasing":
        return k[::-1], "given: k decreases toward the base"
    if order != "auto":
        raise ValueError(f"order must be auto, increasing or decreasing, not {order!r}")
    decided = decide_apex_to_base(direction, lv_area)
    return decided.order, f"{decided.basis}: {decided.note}"


def slice_regions(covered_apex_to_base: np.ndarray) -> dict[int, str]:
    """Equipartition of the covered slices, apex to base, into apex/mid/base thirds.

    With a count not divisible by 3 the extra slices go to the apical thirds first.
    """
    parts = np.array_split(np.asarray(covered_apex_to_base, dtype=int), 3)
    return {int(k): name for name, part in zip(REGIONS, parts, strict=True) for k in part}


def _nan_if_none(v: float | None) -> float:
    return math.nan if v is None else v


def _agreement(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: tuple[float, ...],
    region: np.ndarray | None,
    prob: np.ndarray | None,
) -> dict[str, Any]:
    return {
        "dice": m.dice(pred, ref),
        "hausdorff": m.hausdorff(pred, ref, spacing),
        "hd95": m.hd95(pred, ref, spacing),
        "area_similarity": m.area_similarity(pred, ref),
        "perimeter_similarity": m.perimeter_similarity(pred, ref),
        "balanced_accuracy": m.balanced_accuracy(pred, ref, region),
        "brier": None if prob is None else m.brier_score(prob, ref, region),
    }


def _versus(stem: str, pred_value: float, ref_value: float) -> dict[str, float]:
    """pred_<stem>, ref_<stem> and <stem>_difference columns of one row."""
    return {
        f"pred_{stem}": pred_value,
        f"ref_{stem}": ref_value,
        f"{stem}_difference": m.difference(pred_value, ref_value),
    }


def _burden(
    name: str, pred: dict[str, np.ndarray], ref: dict[str, np.ndarray], sel: Any
) -> dict[str, Any]:
    if name not in SCAR_LIKE:
        return {}
    pb = m.burden_percent(pred[name][sel], pred["Myocardium"][sel])
    rb = m.burden_percent(ref[name][sel], ref["Myocardium"][sel])
    return _versus("burden", pb, rb)


def _region_mask(name: str, pred: dict[str, np.ndarray], ref: dict[str, np.ndarray], sel: Any):  # noqa: ANN202
    # Scar can only be judged where myocardium is: otherwise specificity is all background.
    if name in SCAR_LIKE:
        return pred["Myocardium"][sel] | ref["Myocardium"][sel]
    return None


def evaluate_case(
    pred: LabelMap,
    ref: LabelMap,
    name: str,
    pred_convention: str | Mapping = "auto",
    ref_convention: str | Mapping = "auto",
    probabilities: Mapping[str, np.ndarray] | None = None,
    order: str = "auto",
    check_geometry: bool = True,
) -> tuple[list[dict], list[dict], str]:
    """Rows of the patient table, rows of the slice table, and the slice-order basis."""
    check_same_grid(pred, ref, name, check_geometry)
    spacing = tuple(float(s) for s in ref.spacing)
    pm = to_masks(pred.array, pred_convention)
    rm = to_masks(ref.array, ref_convention)
    structures = [s for s in pm if s in rm]
    if "Myocardium" not in structures:
        raise ValueError(f"{name}: both label maps need a myocardium (have {structures})")
    probabilities = dict(probabilities or {})
    for s, p in probabilities.items():
        if p.shape != ref.array.shape:
            raise GridMismatchError(
                f"{name}: {s} probability has shape {p.shape}, labels {ref.array.shape}"
            )

    lv = rm["Myocardium"] | rm.get("Blood pool", np.zeros_like(rm["Myocardium"]))
    lv_area = lv.sum(axis=(1, 2))
    order_k, basis = apex_to_base_order(lv_area, ref.direction, order)
    covered = np.array([k for k in order_k if rm["Myocardium"][k].any()], dtype=int)
    regions = slice_regions(covered)

    patient_rows: list[dict] = []
    groups = [("all", np.arange(ref.array.shape[0]))]
    groups += [(r, np.sort([k for k, v in regions.items() if v == r])) for r in REGIONS]
    for region, ks in groups:
        if len(ks) == 0:
            continue
        for s in structures:
            pred_s, ref_s = pm[s][ks], rm[s][ks]
            prob = probabilities.get(s)
            row = {"case": name, "region": region, "structure": s, "slices": len(ks)}
            row |= _agreement(
                pred_s,
                ref_s,
                spacing,
                _region_mask(s, pm, rm, ks),
                None if prob is None else prob[ks],
            )
            row |= _versus("volume", m.volume_ml(pred_s, spacing), m.volume_ml(ref_s, spacing))
            if s in TISSUES:
                row |= _versus("mass", m.mass_g(pred_s, spacing), m.mass_g(ref_s, spacing))
            row |= _burden(s, pm, rm, ks)
            patient_rows.append(row)

    slice_rows: list[dict] = []
    pixel_mm2 = spacing[0] * spacing[1]
    for k in order_k:
        if not (any(pm[s][k].any() for s in structures) or any(rm[s][k].any() for s in structures)):
            continue
        for s in structures:
            prob = probabilities.get(s)
            row = {
                "case": name,
                "slice": int(k),
                "region": regions.get(int(k), "outside"),
                "structure": s,
            }
            row |= _agreement(
                pm[s][k],
                rm[s][k],
                spacing[:2],
                _region_mask(s, pm, rm, k),
                None if prob is None else prob[k],
            )
            pa, ra = pm[s][k].sum() * pixel_mm2, rm[s][k].sum() * pixel_mm2
            row |= _versus("area", float(pa), float(ra))
            row |= _burden(s, pm, rm, k)
            slice_rows.append(row)
    return patient_rows, slice_rows, basis


def new_tables() -> tuple[Table, Table]:
    return Table("patients", list(PATIENT_COLUMNS)), Table("slices", list(SLICE_COLUMNS))


def evaluate(
    pred: str | Path,
    ref: str | Path,
    pred_convention: str | Mapping = "auto",
    ref_convention: str | Mapping = "auto",
    order: str = "auto",
    check_geometry: bool = True,
    progress: Callable[[float, str], None] | None = None,
) -> EvaluationResult:
    """Evaluate one study (two files or output folders) or two folders of studies paired by name.

    Raises FileNotFoundError / LabelMapError for unusable inputs, GridMismatchError when a pair is
    not on the same voxel grid, ValueError when no case pairs up.
    """
    pairs, un_pred, un_ref = pair_cases(Path(pred), Path(ref))
    patients, slices = new_tables()
    result = EvaluationResult(patients, slices, {}, un_pred, un_ref)
    for i, (p, r) in enumerate(pairs):
        if progress:
            progress(i / len(pairs), f"evaluating {p.name}")
        pred_map, ref_map = read_label_map(p.labels), read_label_map(r.labels)
        probs = {
            s: read_image(path)[0].astype(np.float64) for s, path in probability_paths(p).items()
        }
        prow, srow, basis = evaluate_case(
            pred_map, ref_map, p.name, pred_convention, ref_convention, probs, order, check_geometry
        )
        for row in prow:
            patients.add_row(**row)
        for row in srow:
            slices.add_row(**row)
        result.cases[p.name] = basis
    if un_pred:
        result.notes.append(f"predictions without a reference (skipped): {', '.join(un_pred)}")
    if un_ref:
        result.notes.append(f"references without a prediction (skipped): {', '.join(un_ref)}")
    if progress:
        progress(1.0, "done")
    return result


def patient_values(result: EvaluationResult, column: str, structure: str = "Scar") -> np.ndarray:
    """One value per case (region 'all') of a patient-table column, NaN when missing."""
    return np.array(
        [
            _nan_if_none(r.get(column))
            for r in result.patients.rows
            if r["region"] == "all" and r["structure"] == structure
        ],
        dtype=float,
    )
