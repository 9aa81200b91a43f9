"""Options shared by `scarseg run` and `scarseg batch`, mapped onto PipelineOptions."""

from __future__ import annotations

import argparse

from ..pipeline import PipelineOptions


def _core_method(text: str) -> str:
    from ScarQuantificationLib.core_scar import method_name

    try:
        return method_name(text)  # the canonical name, as measurements.tsv writes it
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("pipeline options")
    g.add_argument(
        "--mc-samples",
        type=int,
        default=PipelineOptions.mc_samples,
        metavar="N",
        help="Monte-Carlo dropout samples of the myocardium network for the uncertainty map "
        "and per-slice QC (default %(default)s; 1 = deterministic, fastest)",
    )
    g.add_argument(
        "--scar-method",
        choices=["auto", "unet", "network", "fused", "threshold", "none"],
        default=PipelineOptions.scar_method,
        help="scar segmentation: unet = U-Net scar head on the LV crops; network = YOLO boxes + "
        "LiteMedSAM; fused = LiteMedSAM on the YOLO boxes and on the head's scar the detector "
        "missed, its probability averaged with the U-Net head's; threshold = the fwhm-remote "
        "threshold inside the predicted myocardium; auto = the shipped default (unet, the "
        "cross-validation ensemble's head; README, Results); none = myocardium only "
        "(default %(default)s)",
    )
    g.add_argument(
        "--core-method",
        default=PipelineOptions.core_method,
        metavar="METHOD",
        type=_core_method,
        help="core scar inside the enhanced region: fwhm-remote (remote myocardium + half of "
        "the scar maximum above it; right for phase-sensitive-like images with an offset), fwhm "
        "(half the scar maximum, Amado 2004, as cvi42 and Segment; magnitude images only), or "
        "Nsd (N standard deviations above remote myocardium, e.g. 5sd); docs/METRICS.md "
        "(default %(default)s)",
    )
    g.add_argument(
        "--threads",
        type=int,
        default=PipelineOptions.threads,
        metavar="N",
        help="CPU threads for the networks (default %(default)s)",
    )
    g.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default=PipelineOptions.device,
        help="cuda: the networks on an NVIDIA GPU when onnxruntime-gpu is installed instead of "
        "onnxruntime (else the CPU; default %(default)s)",
    )
    g.add_argument(
        "--keep-all-scar",
        action="store_true",
        help="report every lesion the scar network found: no scar-presence rule (by default "
        "the unet head's lesions below its calibrated rule are dropped and a heart below it "
        "is called scar-free; README, Results)",
    )
    g.add_argument(
        "--no-wall-refiner",
        action="store_true",
        help="skip the wall refiner that re-draws the myocardium boundary before the unet "
        "head's scar (scar_refiner.md; by default it runs when installed)",
    )
    g.add_argument(
        "--no-probabilities",
        action="store_true",
        help="do not write probability and uncertainty volumes into the scene",
    )


def pipeline_options(args: argparse.Namespace) -> PipelineOptions:
    return PipelineOptions(
        mc_samples=args.mc_samples,
        core_method=args.core_method,
        scar_method=args.scar_method,
        threads=args.threads,
        keep_probabilities=not args.no_probabilities,
        device=args.device,
        scar_presence=not args.keep_all_scar,
        refine_wall=not args.no_wall_refiner,
    )


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("output options")
    g.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTDIR",
        help="output folder (run: must not exist or be empty, unless --overwrite); files "
        "already in it are never replaced without --overwrite",
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace what an earlier scarseg run wrote in OUTDIR (the files its run.json, or "
        "batch.json, lists), after success; other files in OUTDIR are left alone",
    )
    g.add_argument(
        "--no-overview", action="store_true", help="skip the rendered overview.png (faster)"
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
