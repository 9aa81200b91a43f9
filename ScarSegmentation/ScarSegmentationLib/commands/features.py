"""Export per-patient scar morphology features (CSV) for research classifiers.

INPUTS are label maps or folders of them, found as by `scarseg evaluate` (*/labels.nii.gz of
`scarseg run`, MyoPS *_gd.nii.gz, EMIDEC */Contours/*.nii.gz, or label files in a folder). One row
per case: scar_volume_ml, scar_burden_pct, components_3d, components_2d, solidity_mean,
circularity_mean (area-weighted over 2D components), transmurality_mean/max, scar_extent_pct,
no_reflow_volume_ml, myocardium_volume_ml, enhancement_ratio (when the LGE image is found beside
the labels: EMIDEC Images/, MyoPS *_LGE, or the study named in run.json). Add a label column
(e.g. acute/chronic) and pass the file to `scarseg classify`.
"""

from __future__ import annotations

import argparse

from .evaluate import CONVENTION_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="label map file(s) or folder(s)")
    parser.add_argument(
        "-o", "--output", required=True, metavar="CSV", help="features CSV to write"
    )
    parser.add_argument(
        "--labels", default="auto", metavar="CONV", help=f"label convention: {CONVENTION_HELP}"
    )
    parser.add_argument(
        "--no-image",
        action="store_true",
        help="do not look for the LGE image (no enhancement_ratio)",
    )


def run(args: argparse.Namespace) -> int:
    from ScarQuantificationLib.features import features_for_inputs, write_csv

    from ..errors import InputError

    try:
        rows = features_for_inputs(args.inputs, args.labels, use_images=not args.no_image)
    except (ValueError, FileNotFoundError) as exc:
        raise InputError(str(exc)) from exc
    path = write_csv(rows, args.output)
    print(f"{len(rows)} case(s) -> {path}")
    return 0
