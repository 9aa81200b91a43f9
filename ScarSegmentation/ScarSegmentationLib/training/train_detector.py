"""Train the YOLO scar detector (ultralytics, nano, from scratch, CPU), resumable, with a deadline.

    python -m ScarSegmentationLib.training.train_detector [--epochs N] [--deadline ISO] [--resume]
    python -m ScarSegmentationLib.training.train_detector --export [--conf C]  # -> Resources/Models

Data: the TRAIN split (EMIDEC PNG + MyoPS) as augmented scar frames, VAL split as plain frames
(`detector_data`), written once under <out>/dataset. The model is built from its yaml (no
download) and trained by the ultralytics trainer with plots off, seeded, on the CPU, into
<out>/train. ultralytics strips the optimiser from last.pt when a training ends (even when
stopped early), so every saved epoch is also copied to <out>/train/weights/resume.pt, which
--resume continues from (same epochs total, same schedule). --deadline stops cleanly at an
epoch boundary when the next epoch would not finish in time (mid-epoch only past the deadline).
Log: <out>/train.log.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from .common import parse_deadline, setup_logging

log = logging.getLogger("scarseg.train_detector")
RUN_NAME = "train"
DEFAULT_EPOCHS = 12
FINAL_EVAL_S = 30.0  # seconds kept after the last epoch for ultralytics' final validation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", default=None, help="data dir (default: SCARSEG_DATA or ../shared/data)"
    )
    parser.add_argument("--out", default=None, help="run dir (default: runs/detector)")
    parser.add_argument("--split", default=None, help="split.json (default: Resources/Models)")
    parser.add_argument("--model", default="yolo11n.yaml", help="ultralytics model yaml (nano)")
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"total epochs (default {DEFAULT_EPOCHS}; with --resume: extend the schedule to N)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--copies", type=int, default=4, help="augmented copies per train slice")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--resume", action="store_true", help="continue from <out>/train/weights/resume.pt"
    )
    parser.add_argument("--deadline", default=None, help="UTC ISO time; stop cleanly before it")
    parser.add_argument(
        "--fit-deadline",
        action="store_true",
        help="resize the schedule after each epoch so it ends at the deadline",
    )
    parser.add_argument(
        "--limit-patients",
        type=int,
        default=0,
        help="smoke test: first N train patients (N//4 val)",
    )
    parser.add_argument(
        "--conf", type=float, default=None, help="with --export: score threshold to store"
    )
    parser.add_argument("--dataset-only", action="store_true", help="build <out>/dataset and stop")
    parser.add_argument(
        "--export", action="store_true", help="export best.pt to Resources/Models and stop"
    )


def _deadline(value: str | None) -> float | None:
    d = parse_deadline(value)
    return None if d is None else d.timestamp()


def _dataset(args: argparse.Namespace, out: Path) -> Path:
    from ..data import load_all, load_split
    from . import detector_data as dd

    split = load_split(args.split)
    train, val = list(split["train"]), list(split["val"])
    if args.limit_patients:
        # spread over the sorted ids so normal, pathological and MyoPS patients all appear
        n = args.limit_patients
        train = train[:: max(1, len(train) // n)][:n]
        val = val[:: max(1, len(val) // max(1, n // 4))][: max(1, n // 4)]
    spec = dd.DatasetSpec(copies=args.copies, seed=args.seed, train=tuple(train), val=tuple(val))
    root = out / "dataset"
    manifest = dd.existing(root, spec)
    if manifest is None:
        if root.exists():
            shutil.rmtree(root)
        t0 = time.perf_counter()
        manifest = dd.build(root, load_all(args.data), spec)
        log.info("dataset built in %.0f s: %s", time.perf_counter() - t0, manifest["counts"])
    else:
        log.info("dataset reused: %s", manifest["counts"])
    return root / "data.yaml"


def fit_schedule(trainer: Any, deadline: float, epoch_s: float, now: float) -> None:
    """Resize the total epochs so the schedule ends at the deadline (as ultralytics' own `time`
    mode does after each epoch; that mode cannot resume, it counts from the run's start)."""
    remaining = deadline - now - FINAL_EVAL_S
    total = max(trainer.epoch + 1, trainer.epoch + 1 + int(remaining // (1.05 * epoch_s)))
    if total != trainer.epochs:
        log.info("schedule fitted to the deadline: %d epochs in total", total)
        trainer.epochs = trainer.args.epochs = total
        trainer._setup_scheduler()
        trainer.scheduler.last_epoch = trainer.epoch


def callbacks(
    deadline: float | None, resume_copy: Path, fit_deadline: bool = False
) -> dict[str, Any]:
    """ultralytics callbacks: copy each saved last.pt to `resume_copy`; stop before the deadline
    (and with `fit_deadline` resize the schedule to end there); one log line per epoch."""
    state = {"t_epoch": time.time(), "epoch_s": 0.0, "in_epoch": False, "sum_s": 0.0, "n": 0}

    def on_model_save(trainer: Any) -> None:
        shutil.copyfile(trainer.last, resume_copy)

    def on_train_epoch_start(trainer: Any) -> None:
        state["t_epoch"], state["in_epoch"] = time.time(), True

    def on_train_batch_end(trainer: Any) -> None:
        if deadline is not None and time.time() > deadline:
            trainer.stop = True  # past the deadline: finish this epoch early (validated, saved)

    def on_fit_epoch_end(trainer: Any) -> None:
        now = time.time()
        m = trainer.metrics or {}
        timed = bool(state["in_epoch"])
        if timed:
            state["epoch_s"], state["in_epoch"] = now - state["t_epoch"], False
            state["sum_s"] += state["epoch_s"]
            state["n"] += 1
            what = f"epoch {trainer.epoch + 1}/{trainer.epochs}  {state['epoch_s']:.0f} s"
        else:  # ultralytics' final validation of best.pt after the last epoch
            what = "final validation of best.pt"
        log.info(
            "%s  loss %s  val P %.3f R %.3f mAP50 %.3f mAP50-95 %.3f",
            what,
            " ".join(f"{float(v):.3f}" for v in dict(trainer.tloss).values())
            if trainer.tloss is not None
            else "-",
            m.get("metrics/precision(B)", float("nan")),
            m.get("metrics/recall(B)", float("nan")),
            m.get("metrics/mAP50(B)", float("nan")),
            m.get("metrics/mAP50-95(B)", float("nan")),
        )
        if deadline is None or trainer.stop or not timed:
            return
        mean_s = state["sum_s"] / state["n"]  # epochs of this run (noisy one by one)
        if fit_deadline:
            fit_schedule(trainer, deadline, mean_s, now)
            if trainer.epoch + 1 >= trainer.epochs:
                trainer.stop = True  # schedule complete
        elif now + 1.1 * max(state["epoch_s"], mean_s) > deadline:
            log.info("stopping: the next epoch would pass the deadline (resume with --resume)")
            trainer.stop = True

    return {
        "on_model_save": on_model_save,
        "on_train_epoch_start": on_train_epoch_start,
        "on_train_batch_end": on_train_batch_end,
        "on_fit_epoch_end": on_fit_epoch_end,
    }


def train_overrides(args: argparse.Namespace, data_yaml: Path, out: Path) -> dict[str, Any]:
    """ultralytics train() arguments. Geometric augmentation is mostly offline (exact boxes);
    here only flips, mild scale/translate; no HSV (grey images), no mosaic (frames are LV-centred,
    a mosaic would break that prior)."""
    return {
        "data": str(data_yaml),
        "epochs": args.epochs or DEFAULT_EPOCHS,
        "imgsz": 256,
        "batch": args.batch_size,
        "device": "cpu",
        "workers": 0,
        "seed": args.seed,
        "deterministic": True,
        "project": str(out.resolve()),
        "name": RUN_NAME,
        "exist_ok": True,
        "pretrained": False,
        "plots": False,
        "amp": False,
        "patience": 100,
        "warmup_epochs": 1.0,
        "mosaic": 0.0,
        "close_mosaic": 0,
        "degrees": 0.0,
        "fliplr": 0.5,
        "flipud": 0.5,
        "scale": 0.15,
        "translate": 0.05,
        "hsv_h": 0.0,
        "hsv_s": 0.0,
        "hsv_v": 0.0,
        "verbose": True,
    }


def extend_epochs(checkpoint: Path, epochs: int) -> None:
    """Set the total epochs stored in a resumable checkpoint (ultralytics resumes with the
    stored value; a finished schedule can only continue if it is raised). The linear learning
    rate then continues from its value at the new schedule's position (a warm restart)."""
    import torch

    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    done = int(ck["epoch"]) + 1
    if epochs <= done:
        raise ValueError(f"{checkpoint} already has {done} epochs; ask for more than that")
    ck["train_args"]["epochs"] = int(epochs)
    torch.save(ck, checkpoint)


def export_weights(out: Path, directory: Path | None = None, conf: float | None = None) -> Path:
    """<out>/train/weights/best.pt -> <models>/scar_detector.pt (optimiser stripped, fp16) and
    its SHA256 line; `conf` (the score threshold chosen on the val split) is stored with it."""
    from ..scar.detector import CONF_KEY
    from ..weights import models_dir
    from .export import record_checksum
    from .yolo import configure_offline

    configure_offline()
    from ultralytics.utils.torch_utils import strip_optimizer

    dest = (directory or models_dir()) / "scar_detector.pt"
    updates = {CONF_KEY: float(conf)} if conf is not None else None
    strip_optimizer(out / RUN_NAME / "weights" / "best.pt", str(dest), updates=updates)
    record_checksum(dest)
    return dest


def run(args: argparse.Namespace) -> int:
    import os

    import torch

    out = Path(args.out or "runs/detector")
    handler = setup_logging(log, out)
    # ultralytics' own messages (args, epochs, validation) go to the same file
    ul = logging.getLogger("ultralytics")
    ul.handlers[:] = [h for h in ul.handlers if not isinstance(h, logging.FileHandler)] + [handler]
    from .yolo import configure_offline

    configure_offline(out / "yolo_config")
    if args.export:
        dest = export_weights(out, conf=args.conf)
        log.info("exported %s (%.1f MB)", dest, dest.stat().st_size / 1e6)
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    torch.set_num_threads(args.threads)
    data_yaml = _dataset(args, out)
    if args.dataset_only:
        return 0
    from .yolo import ultralytics_yolo

    yolo = ultralytics_yolo()
    weights_dir = out / RUN_NAME / "weights"
    resume_ckpt = weights_dir / "resume.pt"
    if args.resume and not resume_ckpt.is_file():
        log.error("nothing to resume: %s is missing", resume_ckpt)
        return 2
    if args.resume and args.epochs:
        extend_epochs(resume_ckpt, args.epochs)
        log.info("schedule extended to %d epochs", args.epochs)
    model = yolo(str(resume_ckpt) if args.resume else args.model, task="detect")
    weights_dir.mkdir(parents=True, exist_ok=True)
    for event, fn in callbacks(_deadline(args.deadline), resume_ckpt, args.fit_deadline).items():
        model.add_callback(event, fn)
    overrides = train_overrides(args, data_yaml, out)
    log.info(
        "%s %s",
        "resuming" if args.resume else "training",
        args.model if not args.resume else resume_ckpt,
    )
    t0 = time.perf_counter()
    if args.resume:
        model.train(resume=True, data=str(data_yaml), device="cpu", workers=0, plots=False)
    else:
        model.train(**overrides)
    log.info(
        "training call finished after %.0f s; best: %s",
        time.perf_counter() - t0,
        weights_dir / "best.pt",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
