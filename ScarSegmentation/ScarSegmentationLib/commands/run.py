"""Segment and quantify one LGE short-axis study.

INPUT is a NIfTI/NRRD/MHA file, an EMIDEC-style case folder (Images/*.nii.gz) or a DICOM folder.
OUTDIR receives: segmentation.seg.nrrd (segments "Myocardium", "Blood pool", "Scar", "Core scar",
"Gray zone", "No-reflow" as far as the installed stages produce them), labels.nii.gz (EMIDEC
convention on the input grid: 0 background, 1 blood pool, 2 normal myocardium, 3 scar,
4 no-reflow), segmentation.dcm (DICOM SEG referencing the source images, when INPUT is a DICOM
series), measurements.tsv, slices.tsv, lesions.tsv (each with .schema.tsv), scene.mrb (opens
in 3D Slicer), overview.png and run.json (stages, timings, model checksums, notes, and the list
of files this run wrote). Outputs are written to a temporary folder and moved into place only
when everything succeeded. OUTDIR must not exist (or be empty); with --overwrite, only the files
listed in its run.json are replaced and any other file in it is left alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import add_output_arguments, add_pipeline_arguments, pipeline_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", metavar="INPUT", help="study: image file, case folder or DICOM folder"
    )
    parser.add_argument(
        "--series",
        metavar="S",
        help="DICOM folder with several LGE series: choose by series number or a description "
        "substring (the error message lists the candidates)",
    )
    add_output_arguments(parser)
    add_pipeline_arguments(parser)


def _printer(quiet: bool):  # noqa: ANN202 - small local callback factory
    def progress(fraction: float, message: str) -> None:
        if not quiet:
            print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)

    return progress


def run(args: argparse.Namespace) -> int:
    from ..factory import build_pipeline
    from ..io import load_study
    from ..outputs import check_output_folder, summary_lines, write_outputs

    out = Path(args.output)
    check_output_folder(out, args.overwrite)  # refuse before any work is done
    study = load_study(args.input, series=args.series)
    pipeline = build_pipeline(pipeline_options(args))
    result = pipeline.run(study, progress=_printer(args.quiet))
    write_outputs(result, out, overwrite=args.overwrite, overview=not args.no_overview,
                  child_processes=True)  # fmt: skip
    for line in summary_lines(result, out):
        print(line)
    return 0
