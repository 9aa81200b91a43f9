"""Speed and memory of the shipped runtime, side by side with the peer (myopari) when installed.

    .venv/bin/python bench/bench_inference.py [--study Case_P100] [--repeats 3]
        [--scarseg .venv/bin/scarseg] [--peer-python /path/to/peer/venv/bin/python]
        [--batch 20] [--out runs/bench_inference.json]

Prints, on this machine (run it idle; numbers from a busy machine say little):
- whole `scarseg run` process on one study (interpreter start, imports, model loading, the
  pipeline, writing every output): wall seconds and peak resident memory, median of `--repeats`
  runs, alternated with the peer's whole process on the same study (bench/peer_myopari_run.py,
  in the peer's own environment: `pip install --no-deps myopari==0.1.6` with onnxruntime,
  SimpleITK and scikit-image; the environment variable SCARSEG_PEER_PYTHON works too);
- the same run split into phases inside one fresh process: imports, reading the study, loading
  the models, each pipeline stage, writing the outputs;
- `scarseg batch` over `--batch` real studies (the EMIDEC NIfTI cases and MyoPS): wall seconds;
- the size of the runtime environment and whether torch imports in it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SCARSEG_DATA", REPO.parent / "shared" / "data"))
TIME = shutil.which("time") or "/usr/bin/time"
# as on a user's machine: byte-code is cached after the first run (CI shells often switch it off)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def study_path(name: str) -> Path:
    if (DATA / "emidec-nifti" / name).is_dir():
        return DATA / "emidec-nifti" / name / "Images" / f"{name}.nii.gz"
    path = Path(name)
    if path.exists():
        return path
    raise SystemExit(f"study {name} not found (a case of {DATA}/emidec-nifti or a file)")


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a whole command, through GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as rep:
        t0 = time.perf_counter()
        done = subprocess.run([TIME, "-f", "%M", "-o", rep.name, *cmd], capture_output=True,
                              text=True, env=ENV)  # fmt: skip
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
        return wall, float(rep.read().split()[-1]) / 1024.0


def phases(study: str, threads: int) -> dict[str, float]:
    """The run's phases, timed inside this (fresh) process."""
    t0 = time.perf_counter()
    sys.path[:0] = [str(REPO / "ScarSegmentation"), str(REPO / "ScarQuantification")]
    from ScarSegmentationLib.factory import build_pipeline
    from ScarSegmentationLib.io import load_study
    from ScarSegmentationLib.outputs import write_outputs
    from ScarSegmentationLib.pipeline import PipelineOptions

    out: dict[str, float] = {"imports": time.perf_counter() - t0}
    t = time.perf_counter()
    loaded = load_study(study)
    out["read study"] = time.perf_counter() - t
    t = time.perf_counter()
    pipeline = build_pipeline(PipelineOptions(threads=threads))
    out["load models"] = time.perf_counter() - t
    result = pipeline.run(loaded)
    out.update({f"stage {k}": v for k, v in result.seconds.items() if k != "total"})
    out["segmentation stages"] = sum(
        v for k, v in result.seconds.items() if k not in ("total", "quantification")
    )
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_outputs(result, Path(tmp) / "out", child_processes=True)  # as the command line
    out["write outputs"] = time.perf_counter() - t
    out["process total"] = time.perf_counter() - t0
    return out


def batch_csv(n: int, folder: Path) -> Path:
    """A CSV of n real studies: the EMIDEC NIfTI cases, then MyoPS."""
    rows = [(c, study_path(c)) for c in ("Case_P100", "Case_N006")]
    rows += [
        (p.name, p / f"{p.name}_LGE.nii.gz") for p in sorted((DATA / "myops-train25").glob("Case*"))
    ]
    rows = rows[:n]
    if len(rows) < n:
        raise SystemExit(f"only {len(rows)} studies found in {DATA}")
    path = folder / "studies.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "input"])
        w.writerows((name, str(p)) for name, p in rows)
    return path


def folder_mb(path: Path) -> float:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="Case_P100")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scarseg", default=str(REPO / ".venv" / "bin" / "scarseg"))
    ap.add_argument("--peer-python", default=os.environ.get("SCARSEG_PEER_PYTHON"))
    ap.add_argument("--batch", type=int, default=20, help="studies for the batch run (0: skip)")
    ap.add_argument("--phases-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--skip-phases", action="store_true", help="only whole processes (any CLI)")
    ap.add_argument("--out", default=str(REPO / "runs" / "bench_inference.json"))
    args = ap.parse_args()
    study = study_path(args.study)
    if args.phases_only:
        print(json.dumps(phases(str(study), args.threads)))
        return 0

    report: dict = {"study": str(study), "repeats": args.repeats, "cpus": os.cpu_count()}
    ours, peer = [], []
    with tempfile.TemporaryDirectory() as tmp:
        # untimed first runs: byte-code caches written, files in the page cache
        timed([args.scarseg, "run", str(study), "-o", str(Path(tmp) / "warm"), "-q"])
        if args.peer_python:
            timed([args.peer_python, str(REPO / "bench" / "peer_myopari_run.py"), str(study),
                   str(Path(tmp) / "warm.nii.gz")])  # fmt: skip
        for r in range(args.repeats):  # alternated, so both see the same machine load
            out = Path(tmp) / f"ours{r}"
            ours.append(timed([args.scarseg, "run", str(study), "-o", str(out), "-q",
                               "--threads", str(args.threads)]))  # fmt: skip
            if args.peer_python:
                peer.append(timed([args.peer_python, str(REPO / "bench" / "peer_myopari_run.py"),
                                   str(study), str(Path(tmp) / f"peer{r}.nii.gz")]))  # fmt: skip
    for name, runs in (("scarseg run", ours), ("peer (myopari 0.1.6)", peer)):
        if runs:
            report[name] = {
                "wall_s_median": statistics.median(w for w, _ in runs),
                "wall_s_all": [round(w, 2) for w, _ in runs],
                "peak_mb_median": statistics.median(m for _, m in runs),
            }
    if peer:
        report["ratio ours/peer (wall)"] = (
            report["scarseg run"]["wall_s_median"] / report["peer (myopari 0.1.6)"]["wall_s_median"]
        )
    python = str(Path(args.scarseg).with_name("python"))
    if not args.skip_phases:
        done = subprocess.run([python, __file__, "--phases-only", "--study", str(study),
                               "--threads", str(args.threads)], capture_output=True, text=True,
                              env=ENV)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        report["phases_s"] = json.loads(done.stdout.strip().splitlines()[-1])
    if args.batch:
        with tempfile.TemporaryDirectory() as tmp:
            listing = batch_csv(args.batch, Path(tmp))
            wall, mb = timed([args.scarseg, "batch", str(listing), "-o", str(Path(tmp) / "out"),
                              "-q", "--threads", str(args.threads)])  # fmt: skip
        report[f"scarseg batch ({args.batch} studies)"] = {"wall_s": wall, "peak_mb": mb}
    venv = Path(args.scarseg).parents[1]
    report["environment"] = (
        {}
        if args.skip_phases
        else {
            "path": str(venv),
            "size_mb": folder_mb(venv),
            "torch_importable": subprocess.run(
                [python, "-c", "import torch"], capture_output=True
            ).returncode
            == 0,  # fmt: skip
        }
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
