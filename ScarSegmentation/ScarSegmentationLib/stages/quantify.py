"""Last stage: core scar, gray zone and every table, via ScarQuantificationLib.

When no scar network produced a "Scar" mask and the options allow it, the scar is the classical
FWHM threshold inside the predicted myocardium (said so in the notes and the measurements). The
per-slice QC values earlier stages recorded (MC-dropout agreement, anatomical checks) are added
as columns of the slices table.
"""

from __future__ import annotations

from typing import Any

from ScarQuantificationLib.quantify import quantify
from ScarQuantificationLib.table import Column, Table

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
            apex_to_base=study.apex_to_base,
            positions_mm=study.slice_positions_mm(),
            direction=study.direction,
            core_method=options.core_method if options.scar_method != "none" else None,
            scar_method="fwhm" if use_threshold else None,
            origin=study.origin,
            scar_source=ctx.scar_source,
        )
        ctx.masks.update(result.masks)
        ctx.tables.update(result.tables)
        if "slices" in ctx.tables:
            add_qc_columns(ctx.tables["slices"], ctx.slice_info)
        ctx.notes.extend(result.notes)
        if use_threshold:
            ctx.notes.append(
                "scar = FWHM threshold inside the predicted myocardium (classical method; "
                "the scar network is not installed or not selected; see README for accuracy)"
            )
        progress(1.0, "quantified")
