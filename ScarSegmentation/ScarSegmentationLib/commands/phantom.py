"""Write the synthetic LGE phantom (a made-up heart, NOT patient data) with its ground truth.

Writes OUTDIR/phantom.nii.gz and OUTDIR/phantom_labels.nii.gz (EMIDEC convention). Useful to try
the pipeline without real data and to test measurements against a known truth.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    from ..phantom import write_phantom

    paths = write_phantom(Path(args.output), seed=args.seed)
    for p in paths if isinstance(paths, list | tuple) else [paths]:
        print(p)
    return 0
