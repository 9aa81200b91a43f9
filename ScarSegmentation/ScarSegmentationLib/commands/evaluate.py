"""Compare predicted label maps with reference labels (validation workflow).

PRED and REF are each a label file, one output folder of `scarseg run` (holding labels.nii.gz), or
a folder of cases paired by name: */labels.nii.gz (our outputs), MyoPS *_gd.nii.gz, EMIDEC
*/Contours/*.nii.gz, or label files directly in the folder. Label values are read as EMIDEC
(0-4) or MyoPS (200/500/600/1220/2221), detected from the values, or as a mapping such as
"scar=3,4;myocardium=2,3,4;blood pool=1". Both label maps of a pair must be on the same grid.

OUTDIR receives patients.tsv (per case: all slices and apex/mid/base thirds), slices.tsv (per
slice), both with .schema.tsv, summary.md, summary.html and scar_mass.png / scar_burden.png
(scatter and Bland-Altman). Metrics: Dice, Hausdorff and HD95 (mm), area and perimeter
similarity, balanced accuracy, Brier score (when <structure>_probability.nii.gz lies next to
labels.nii.gz), volume, mass and burden differences; Wilcoxon and Welch tests of scar mass and
burden. Conventions: docs/METRICS.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CONVENTION_HELP = "auto (from the label values), emidec, myops, or a mapping 'scar=3,4;myocardium=2,3,4;blood pool=1'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pred", metavar="PRED", help="predicted label map(s): file or folder")
    parser.add_argument("ref", metavar="REF", help="reference label map(s): file or folder")
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUTDIR",
        default="evaluation",
        help="output folder (default %(default)s)",
    )
    parser.add_argument(
        "--pred-labels",
        default="auto",
        metavar="CONV",
        help=f"prediction labels: {CONVENTION_HELP}",
    )
    parser.add_argument(
        "--ref-labels", default="auto", metavar="CONV", help=f"reference labels: {CONVENTION_HELP}"
    )
    parser.add_argument(
        "--order",
        choices=["auto", "increasing", "decreasing"],
        default="auto",
        help="apex-to-base slice order for the apex/mid/base breakdown: auto = from the slice "
        "orientation when oblique, else from the reference LV area; increasing = slice index "
        "grows toward the base (default %(default)s)",
    )
    parser.add_argument(
        "--no-geometry-check",
        action="store_true",
        help="compare label maps of equal size even if spacing/origin/direction headers differ",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the output files")


def run(args: argparse.Namespace) -> int:
    from ScarQuantificationLib.evaluate import evaluate
    from ScarQuantificationLib.evaluate_report import summary_rows, write_report

    from ..errors import InputError

    try:
        result = evaluate(
            args.pred,
            args.ref,
            pred_convention=args.pred_labels,
            ref_convention=args.ref_labels,
            order=args.order,
            check_geometry=not args.no_geometry_check,
        )
    except (ValueError, FileNotFoundError) as exc:  # LabelMapError, GridMismatchError included
        raise InputError(str(exc)) from exc
    files = write_report(result, Path(args.output), plots=not args.no_plots)
    if not args.quiet:
        for note in result.notes:
            print(f"note: {note}")
        for row in summary_rows(result):
            if row["region"] == "all":
                mean, _, n = row["dice"]
                print(f"{row['structure']}: mean Dice {mean:.3f} over {n} case(s)")
    for f in files:
        print(f)
    return 0
