"""Run many studies and write one summary table.

STUDIES is a folder (each image file or sub-folder in it is one study; a sub-folder may be an
EMIDEC-style case folder or a DICOM folder) or a CSV file with a header and the columns
`input` (required; relative paths are taken from the CSV's folder), `name` and `series`
(optional). Each study is written to OUTDIR/<name>/ exactly as `scarseg run` writes it, and
OUTDIR/summary.tsv lists every study with its status, error message, key measurements and
seconds. A failing study is reported and skipped; the exit status is 1 if any study failed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .options import add_output_arguments, add_pipeline_arguments, pipeline_options

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
# Columns of measurements.tsv repeated in summary.tsv (absent ones are left empty).
SUMMARY_MEASURES = (
    "myocardium_volume_ml",
    "myocardium_mass_g",
    "scar_volume_ml",
    "scar_mass_g",
    "scar_burden_pct",
    "lv_cavity_volume_ml",
)


@dataclass(frozen=True)
class StudyJob:
    name: str
    input: str
    series: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("studies", metavar="STUDIES", help="folder of studies or CSV list")
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="parallel processes (default 1)"
    )
    add_output_arguments(parser)
    add_pipeline_arguments(parser)


def _is_image(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(IMAGE_SUFFIXES)


def _strip_suffix(name: str) -> str:
    for s in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(s):
            return name[: -len(s)]
    return name


def list_jobs(studies: str) -> list[StudyJob]:
    """The studies named by a folder or a CSV list, in a stable order."""
    from ..errors import InputError

    path = Path(studies)
    if path.is_file() and path.suffix.lower() in (".csv", ".tsv"):
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f, delimiter=delimiter))
        if not rows or "input" not in rows[0]:
            raise InputError(f"{path}: a study list needs a header with an 'input' column")
        jobs = []
        for row in rows:
            p = Path(row["input"])
            p = p if p.is_absolute() else path.parent / p
            name = (row.get("name") or "").strip() or _strip_suffix(p.name)
            jobs.append(StudyJob(name, str(p), (row.get("series") or "").strip() or None))
    elif path.is_dir():
        entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
        jobs = [
            StudyJob(_strip_suffix(p.name), str(p)) for p in entries if p.is_dir() or _is_image(p)
        ]
    else:
        raise InputError(f"{path}: not a folder of studies or a .csv/.tsv study list")
    if not jobs:
        raise InputError(f"{path}: no studies found")
    names = [j.name for j in jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"{path}: study names must be unique; repeated: {', '.join(duplicates)}")
    return jobs


# One pipeline per worker process: models load once and serve every study of that worker.
_PIPELINE: Any = None


def _run_one(job: StudyJob, args: argparse.Namespace) -> dict[str, Any]:
    global _PIPELINE
    from ..errors import ScarSegError
    from ..factory import build_pipeline
    from ..io import load_study
    from ..outputs import measurement_values, write_outputs

    t0 = time.perf_counter()
    row: dict[str, Any] = {"name": job.name, "input": job.input, "status": "ok", "error": ""}
    try:
        study = load_study(job.input, series=job.series)
        if _PIPELINE is None:
            _PIPELINE = build_pipeline(pipeline_options(args))
        result = _PIPELINE.run(study)
        out = Path(args.output) / job.name
        write_outputs(result, out, overwrite=args.overwrite, overview=not args.no_overview)
        values = measurement_values(result)
        row.update({k: values.get(k) for k in SUMMARY_MEASURES})
    except ScarSegError as exc:
        row.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a batch reports every failure and goes on
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def _write_summary(rows: list[dict[str, Any]], out: Path) -> Path:
    columns = ["name", "input", "status", "error", *SUMMARY_MEASURES, "seconds"]
    path = out / "summary.tsv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, delimiter="\t", extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return path


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..errors import InputError

    jobs = list_jobs(args.studies)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(jobs), desc="studies", unit="study", disable=args.quiet, file=sys.stderr)
    rows: list[dict[str, Any]] = []
    if args.workers <= 1:
        for job in jobs:
            rows.append(_run_one(job, args))
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            for row in pool.map(_run_one, jobs, [args] * len(jobs)):
                rows.append(row)
                bar.update(1)
    bar.close()
    summary = _write_summary(rows, out)
    failed = [r for r in rows if r["status"] != "ok"]
    for r in failed:
        print(f"FAILED {r['name']}: {r['error']}", file=sys.stderr)
    print(f"{len(rows) - len(failed)} of {len(rows)} studies done; summary: {summary}")
    return 1 if failed else 0
