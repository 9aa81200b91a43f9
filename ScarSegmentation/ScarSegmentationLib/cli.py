"""`scarseg`: the headless command line (run, batch, evaluate, features, classify, train, phantom)."""

from __future__ import annotations

import os

# Before torch loads: idle OpenMP threads sleep instead of spinning. On a busy 2-core machine the
# default spin-wait made a 7-slice ROI pass take 1.2 s instead of 0.14 s (20x), so be polite.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import importlib  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence

from .errors import ScarSegError  # noqa: E402

# Subcommand -> module under ScarSegmentationLib exposing add_arguments(parser) and run(args).
# Imported lazily: only the chosen command's module is loaded.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("commands.run", "segment and quantify one study, write all outputs to a folder"),
    "batch": ("commands.batch", "run many studies (a folder or a CSV list), one summary table"),
    "evaluate": ("commands.evaluate", "compare predicted label maps with reference labels"),
    "features": ("commands.features", "export per-patient scar morphology features (CSV)"),
    "classify": ("commands.classify", "cross-validated XGBoost classifier on a features CSV"),
    "train": ("commands.train", "train a model (roi, myocardium, anatomy) on ../shared/data"),
    "phantom": ("commands.phantom", "write the synthetic LGE phantom with its ground truth"),
}

EPILOG = """\
examples:
  scarseg run ../shared/data/emidec-nifti/Case_P100 -o out/Case_P100
  scarseg run /path/to/dicom_folder --series 12 -o out/patient1
  scarseg batch studies.csv -o out/cohort --workers 2
  scarseg evaluate out/cohort ../shared/data/myops-train25
  scarseg <command> --help   (options of one command)

Exit status: 0 success, 1 a study or input could not be processed (message on stderr),
2 wrong command-line usage. Weights are CC BY-NC-SA 4.0 (trained on EMIDEC): research only.
"""


def _quiet_third_party() -> None:
    # ultralytics reaches for the network unless told not to; keep every run offline.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that command's module is imported (the others are listed
    with their help text), so a run pays neither for training code nor for unused commands."""
    parser = argparse.ArgumentParser(
        prog="scarseg",
        description=(
            "MyocardialScar: LV myocardium and scar segmentation and quantification of "
            "late-gadolinium-enhancement (LGE) short-axis cardiac MRI."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        if name != only:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        module = importlib.import_module(f"{__package__}.{module_name}")
        p = sub.add_parser(
            name,
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_third_party()
    argv = list(sys.argv[1:] if argv is None else argv)
    only = argv[0] if argv and argv[0] in COMMANDS else None
    try:
        args = build_parser(only).parse_args(argv)
    except ScarSegError as exc:
        print(f"scarseg: error: {exc}", file=sys.stderr)
        return 1
    try:
        return int(args._run(args) or 0)
    except ScarSegError as exc:
        print(f"scarseg {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"scarseg {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
