"""Last stage: core scar, gray zone and every table, via ScarQuantificationLib.

The study's apex-to-base order is settled here from the final myocardium and blood pool
(ScarQuantificationLib.apex_base: decisive anatomy, else an oblique geometry) and stored on the
Study, so slices.tsv, the AHA table, the bullseye, the overview and run.json share it, and
ScarQuantification's recompute on the same segments finds the same order. The AHA orientation
comes from the RV insertion points detected on the image (ScarQuantificationLib.rv_insertion).
When no scar network produced a "Scar" mask and the options allow it, the scar is the classical
fwhm-remote threshold inside the predicted myocardium (said so in the notes and the
measurements). The per-slice QC values earlier stages recorded (MC-dropout agreement, anatomical
checks) are added as columns of the slices table.
"""

from __future__ import annotations

from typing import Any

from ScarQuantificationLib.core_scar import FWHM_REMOTE
from ScarQuantificationLib.quantify import quantify
from ScarQuantificationLib.table import Column, Table

from ..io.slice_order import set_order
from ..pipeline import PipelineContext, ProgressCallback

# slice_info key -> column of slices.tsv (only keys some stage actually recorded are written).
QC_COLUMNS: dict[str, Column] = {
    "roi_area_px": Column("roi_area_px", "int", "px", "LV region area found by stage 1"),
    "mc_dice": Column(
        "mc_dropout_dice",
        "double",
        "",
        "mean Dice between each Monte-Carlo dropout sample's myocardium and their mean "
        "(low = uncertain slice; review it)",
    ),
    "anatomy_pass_before": Column(
        "anatomy_pass_before", "bit", "", "network myocardium passed the anatomical checks"
    ),
    "anatomy_corrected": Column(
        "anatomy_corrected", "bit", "", "myocardium replaced by the nearest plausible shape"
    ),
    "anatomy_pass_after": Column(
        "anatomy_pass_after", "bit", "", "output myocardium passes the anatomical checks"
    ),
    "kept": Column("kept", "bit", "", "slice kept by the apex-to-base volumetric check"),
}


def add_qc_columns(table: Table, slice_info: dict[int, dict[str, Any]]) -> None:
    recorded = {key for info in slice_info.values() for key in info}
    columns = [c for key, c in QC_COLUMNS.items() if key in recorded]
    table.columns.extend(columns)
    key_of = {c.name: key for key, c in QC_COLUMNS.items()}
    for row in table.rows:
        info = slice_info.get(int(row["slice_index"]), {})
        for c in columns:
            value = info.get(key_of[c.name])
            row[c.name] = (
                None if value is None else (float(value) if c.type == "double" else int(value))
            )


class QuantifyStage:
    name = "quantification"

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        study, options = ctx.study, ctx.options
        use_threshold = options.scar_method in ("auto", "threshold") and "Scar" not in ctx.masks
        progress(0.1, "quantifying")
        result = quantify(
            study.image,
            ctx.masks,
            study.spacing,
            apex_to_base="auto",
            positions_mm=study.slice_positions_mm(),
            direction=study.direction,
            core_method=options.core_method if options.scar_method != "none" else None,
            scar_method=FWHM_REMOTE if use_threshold else None,
            origin=study.origin,
            scar_source=ctx.scar_source,
        )
        if result.slice_order is not None:
            if list(result.slice_order.order) != [int(k) for k in study.apex_to_base]:
                ctx.notes.append("slice order revised from the final masks (earlier stages used "
                                 "the other end as the apex)")  # fmt: skip
            set_order(study, result.slice_order)
        ctx.masks.update(result.masks)
        ctx.tables.update(result.tables)
        if "slices" in ctx.tables:
            add_qc_columns(ctx.tables["slices"], ctx.slice_info)
        ctx.notes.extend(result.notes)
        if use_threshold:
            ctx.notes.append(
                "scar = fwhm-remote threshold inside the predicted myocardium (classical method; "
                "the scar network is not installed or not selected; see README for accuracy)"
            )
        progress(1.0, "quantified")
