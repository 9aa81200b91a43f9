"""Held-out class probabilities of the fold models, for decision rules studied offline.

    .venv/bin/python bench/dump_cv_probs.py --models 'runs/cv5ds/fold{k}' --out runs/probs \
        [--folds 0,1,2,3,4] [--threads 1] [--mc 4] [--variant noise]

Runs each fold's pipeline (as bench_cv, scar method unet, presence rule on) on that fold's
held-out patients and writes one compressed npz per patient: `lab` (reference labels, EMIDEC
convention), `pred` (the pipeline's labels: 1 blood pool, 2 myocardium, 3 scar, 4 no-reflow),
`probs` (the scar net's mean softmax over its passes, (C, K, H, W), float16, on the study grid;
outside the crops background = 1), `std` (the standardised image, float16), `fold` and `apex_first` (the pipeline's slice order:
index 0 at the apex; the wall refiner puts neighbours apex side first). The
myocardium stage's passes are read from the pipeline context by a probe stage placed after it;
nothing in the pipeline changes. A patient whose npz exists is skipped (resumable).
`--variant` shows the studies differently first (bench_robustness.py's variants, as bench_cv:
e.g. `noise`, 3 % Rician noise), for a refiner trained or scored on noisy images.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(REPO / "bench"),
    str(REPO / "ScarSegmentation"),
    str(REPO / "ScarQuantification"),
]

from bench_myocardium import studies_for  # noqa: E402
from bench_robustness import variant  # noqa: E402
from ScarSegmentationLib.data.folds import load_folds  # noqa: E402
from ScarSegmentationLib.errors import NoHeartFoundError  # noqa: E402
from ScarSegmentationLib.outputs import labels_from_masks  # noqa: E402
from ScarSegmentationLib.pipeline import PipelineOptions  # noqa: E402


class ProbeStage:
    """Keeps the mean softmax of the myocardium stage's passes on the study grid."""

    name = "probe"

    def __init__(self) -> None:
        self.probs: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def run(self, ctx, progress) -> None:  # noqa: ANN001
        from ScarSegmentationLib.stages.scar_refine import study_softmax

        self.probs = study_softmax(ctx)  # what the wall refiner reads at run time
        self.std = ctx.standardized


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True, help="fold model folder pattern with {k}")
    ap.add_argument("--out", required=True, help="folder for the per-patient npz files")
    ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mc", type=int, default=PipelineOptions.mc_samples)
    ap.add_argument("--variant", default="as_is", help="bench_robustness.py's variant, e.g. noise")
    args = ap.parse_args()

    from ScarSegmentationLib.factory import build_pipeline

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    all_folds = load_folds()
    options = PipelineOptions(mc_samples=args.mc, threads=args.threads, scar_method="unet")
    for k in (int(x) for x in args.folds.split(",")):
        todo = [p for p in all_folds[k] if not (out / f"{p.replace('/', '_')}.npz").exists()]
        if not todo:
            continue
        os.environ["SCARSEG_MODELS"] = str(Path(args.models.format(k=k)).resolve())
        pipeline = build_pipeline(options)
        probe = ProbeStage()
        at = [s.name for s in pipeline.stages].index("myocardium") + 1
        pipeline.stages.insert(at, probe)
        for _centre, pid, study, lab in studies_for(todo, nifti=False):
            study, lab = variant(args.variant, study, lab)
            try:
                result = pipeline.run(study)
            except NoHeartFoundError as exc:
                print(f"{pid}: {exc}", file=sys.stderr)
                continue
            np.savez_compressed(
                out / f"{pid.replace('/', '_')}.npz",
                lab=lab.astype(np.uint8),
                pred=labels_from_masks(result.masks, lab.shape),
                probs=probe.probs.astype(np.float16),
                std=probe.std.astype(np.float16),
                fold=k,
                apex_first=bool(result.study.apex_to_base[0] < result.study.apex_to_base[-1]),
            )
            print(f"fold {k} {pid}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
