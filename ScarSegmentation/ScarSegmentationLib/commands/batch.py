"""Run many studies and write one summary table.

STUDIES is a folder (each image file or sub-folder in it is one study; a sub-folder may be an
EMIDEC-style case folder or a DICOM folder) or a CSV file with a header and the columns
`input` (required; relative paths are taken from the CSV's folder), `name` and `series`
(optional). Each study is written to OUTDIR/<name>/ exactly as `scarseg run` writes it, and
OUTDIR/summary.tsv (with summary.schema.tsv: types and units) lists every study with its status,
error message, key measurements and seconds; batch.json lists the files the batch wrote in OUTDIR.
OUTDIR may exist; an earlier batch's summary and study folders are replaced only with
--overwrite, and then only the files that batch.json and each study's run.json list. A failing
study is reported and skipped; the exit status is 1 if any study failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .options import add_output_arguments, add_pipeline_arguments, pipeline_options

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
# Columns of measurements.tsv repeated in summary.tsv (absent ones are left empty), with units.
SUMMARY_MEASURES = {
    "myocardium_volume_ml": ("ml", "LV myocardium volume, scar included (measurements.tsv)"),
    "myocardium_mass_g": ("g", "LV myocardium mass, scar included (measurements.tsv)"),
    "scar_volume_ml": ("ml", "scar volume, no-reflow included (measurements.tsv)"),
    "scar_mass_g": ("g", "scar mass, no-reflow included (measurements.tsv)"),
    "scar_burden_pct": ("%", "scar volume / myocardium volume (measurements.tsv)"),
    "lv_cavity_volume_ml": (
        "ml",
        "LV cavity enclosed by the myocardium, papillary muscles and trabeculae included "
        "(measurements.tsv)",
    ),
}
BATCH_MARKER = "batch.json"  # lists the files the batch wrote in OUTDIR (not the study folders)
BATCH_WRITTEN_BY = "scarseg batch"
BATCH_FILES = ("summary.tsv", "summary.schema.tsv", BATCH_MARKER)


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
    from ..outputs import check_output_folder, measurement_values, write_outputs

    t0 = time.perf_counter()
    row: dict[str, Any] = {"name": job.name, "input": job.input, "status": "ok", "error": ""}
    try:
        out = Path(args.output) / job.name
        check_output_folder(out, args.overwrite)  # before this study's work
        study = load_study(job.input, series=job.series)
        if _PIPELINE is None:
            _PIPELINE = build_pipeline(pipeline_options(args))
        result = _PIPELINE.run(study)
        write_outputs(result, out, overwrite=args.overwrite, overview=not args.no_overview,
                      child_processes=True)  # fmt: skip
        values = measurement_values(result)
        row.update({k: values.get(k) for k in SUMMARY_MEASURES})
    except ScarSegError as exc:
        row.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a batch reports every failure and goes on
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def summary_table(rows: list[dict[str, Any]]) -> Any:
    """The rows of summary.tsv as a typed Table (units and descriptions go to the schema)."""
    from ScarQuantificationLib.table import Column, Table

    columns = [
        Column("name", "string", "", "study name: its folder in OUTDIR"),
        Column("input", "string", "", "the study's image file or folder"),
        Column("status", "string", "", "ok, or failed (then nothing was written for it)"),
        Column("error", "string", "", "why the study failed"),
        *(Column(n, "double", unit, text) for n, (unit, text) in SUMMARY_MEASURES.items()),
        Column("seconds", "double", "s", "wall time for the study: load, pipeline, outputs"),
    ]
    table = Table("summary", columns)
    names = {c.name for c in columns}
    for r in rows:
        table.add_row(**{k: v for k, v in r.items() if k in names})
    return table


def check_batch_folder(out: Path, overwrite: bool) -> None:
    """Before any study runs: OUTDIR can be written, and an earlier batch's summary is replaced
    only with --overwrite and only when that batch's batch.json lists it."""
    from ..errors import InputError
    from ..outputs import check_output_location, written_files

    check_output_location(out)
    present = [n for n in BATCH_FILES if (out / n).exists()]
    if not present:
        return
    if not overwrite:
        raise InputError(
            f"{out} holds an earlier batch's {', '.join(present)}; choose another OUTDIR or "
            "pass --overwrite"
        )
    listed = written_files(out, BATCH_MARKER, BATCH_WRITTEN_BY) or set()
    unlisted = [n for n in present if n not in listed]
    if unlisted:
        raise InputError(
            f"--overwrite would replace {', '.join(unlisted)} in {out}, which scarseg batch did "
            "not write; move them or choose another OUTDIR"
        )


def _write_summary(rows: list[dict[str, Any]], out: Path) -> Path:
    from ScarQuantificationLib.evaluate_io import write_tsv

    from ..errors import ScarSegError

    marker = {
        "written_by": BATCH_WRITTEN_BY,
        "files": sorted(BATCH_FILES),
        "studies": [r["name"] for r in rows],
    }
    try:
        path, _ = write_tsv(summary_table(rows), out / "summary.tsv")
        (out / BATCH_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ScarSegError(f"writing the summary to {out} failed: {exc}") from exc
    return path


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    jobs = list_jobs(args.studies)
    out = Path(args.output).absolute()
    check_batch_folder(out, args.overwrite)  # refuse before any work is done
    out.mkdir(parents=True, exist_ok=True)
    args.output = str(out)  # the workers write below the same folder, whatever their cwd
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
