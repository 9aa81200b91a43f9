"""Write a pipeline result to an output folder: all or nothing, and never a file it did not write.

OUTDIR is checked before any work (check_output_folder): its place must be a folder this user can
write in, OUTDIR itself a folder (or absent), and an existing non-empty OUTDIR is used only with
--overwrite and only when its run.json lists the files an earlier run wrote there. Files are
written into a temporary sibling folder and moved into place only when every file was written,
so a failure never leaves a half-written OUTDIR behind. Replacing an earlier run moves exactly
the files its run.json lists (and the new ones) and leaves everything else in OUTDIR alone.
Folders and files get the user's usual permissions (the umask), not private temporary ones.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from ScarQuantificationLib.segments import EMIDEC_LABELS

from .errors import InputError, ScarSegError
from .pipeline import PipelineResult
from .study import Study

log = logging.getLogger(__name__)

# scar_boxes: the SAM box prompts (detector's, and the scar head's with fused), when it ran.
TABLE_FILES = ("measurements", "slices", "lesions", "aha", "scar_boxes")
MARKER = "run.json"  # provenance, and the list of files this run wrote ("files")
WRITTEN_BY = "scarseg run"
# Every name `scarseg run` may write, so that a user's file of such a name is never replaced.
OUTPUT_NAMES = frozenset(
    [
        "segmentation.seg.nrrd",
        "segmentation.dcm",  # DICOM SEG, when the input is a DICOM series
        "labels.nii.gz",
        "scene.mrb",
        "overview.png",
        "bullseye.png",
        MARKER,
        *(f"{t}.tsv" for t in TABLE_FILES),
        *(f"{t}.schema.tsv" for t in TABLE_FILES),
    ]
)
MAP_SUFFIXES = ("_probability.nii.gz", "_uncertainty.nii.gz")


def _may_write(name: str) -> bool:
    return name in OUTPUT_NAMES or name.endswith(MAP_SUFFIXES)


def check_output_location(out: Path) -> None:
    """OUTDIR is not a file, and the folder it goes in (its parent, or the nearest existing folder
    above it, where the missing ones will be made) exists and this user may write in it."""
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out} is a file, not a folder: choose a folder name")
    above = out.parent
    while not above.exists() and above.parent != above:
        above = above.parent
    if not above.is_dir():
        raise InputError(f"cannot create output folder {out}: {above} is a file, not a folder")
    if not os.access(above, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot write output folder {out}: no permission to write in {above} "
            "(read-only or another user's folder); choose another place"
        )


def written_files(out: Path, marker: str = MARKER, written_by: str = WRITTEN_BY) -> set[str] | None:
    """Names of the files an earlier run listed in `out`/`marker`, or None if there is no such
    list (no marker, not ours, unreadable, or a name that is not a plain file name)."""
    try:
        data = json.loads((Path(out) / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != written_by:
        return None
    files = data.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    if any(f in ("", ".", "..") or "/" in f or "\\" in f for f in files):
        return None
    return set(files)


def check_output_folder(out: Path, overwrite: bool) -> None:
    """Refuse an OUTDIR that cannot be written, or that holds files scarseg would destroy.

    Called before any work is done; creates nothing.
    """
    out = Path(out).absolute()
    check_output_location(out)
    if not out.exists():
        return
    try:
        names = sorted(p.name for p in out.iterdir())
    except OSError as exc:
        raise InputError(f"cannot read output folder {out}: {exc.strerror or exc}") from exc
    if names and not overwrite:
        raise InputError(f"output folder {out} exists; choose another or pass --overwrite")
    if names:
        listed = written_files(out)
        if listed is None:
            raise InputError(
                f"output folder {out} exists and has no {MARKER} from scarseg listing the files it "
                "wrote, so --overwrite cannot tell them from yours; choose another folder or "
                "empty this one"
            )
        clash = [n for n in names if n not in listed and _may_write(n)]
        if clash:
            raise InputError(
                f"--overwrite would replace {', '.join(clash)} in {out}, which scarseg did not "
                "write; move them or choose another folder"
            )
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"cannot write in output folder {out}: no permission (read-only?)")


def labels_from_masks(masks: dict[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """EMIDEC label map: 1 blood pool, 2 normal myocardium, 3 scar, 4 no-reflow (later wins)."""
    labels = np.zeros(shape, dtype=np.uint8)
    order = [
        ("Blood pool", EMIDEC_LABELS["blood pool"]),
        ("Myocardium", EMIDEC_LABELS["normal myocardium"]),
        ("Scar", EMIDEC_LABELS["scar"]),
        ("No-reflow", EMIDEC_LABELS["no-reflow"]),
    ]
    for name, value in order:
        if name in masks:
            labels[np.asarray(masks[name], dtype=bool)] = value
    return labels


def write_label_map(labels: np.ndarray, study: Study, path: Path) -> None:
    """Label map (or float map) on the input grid (same size, spacing, origin and direction as the study)."""
    img = sitk.GetImageFromArray(labels)
    img.SetSpacing([float(s) for s in study.spacing])
    img.SetOrigin([float(o) for o in study.origin])
    img.SetDirection([float(d) for d in np.asarray(study.direction).ravel()])
    sitk.WriteImage(img, str(path), useCompression=True)


def measurement_values(result: PipelineResult) -> dict[str, Any]:
    table = result.tables.get("measurements")
    if table is None or not table.rows:
        return {}
    return dict(table.rows[0])


def summary_lines(result: PipelineResult, out: Path) -> list[str]:
    lines = [f"{result.study.name}: wrote {out}"]
    values = measurement_values(result)
    for c in result.tables["measurements"].columns if "measurements" in result.tables else []:
        v = values.get(c.name)
        if c.type == "double" and v is not None:
            lines.append(f"  {c.name}: {v:.2f} {c.unit}".rstrip())
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in result.seconds.items())
    peak = result.peak_memory_mb
    memory = f"{peak:.0f} MB" if math.isfinite(peak) else "not available"
    lines.append(f"  time: {timing}; peak memory {memory}")
    lines.extend(f"  note: {n}" for n in result.notes)
    return lines


def _provenance(result: PipelineResult) -> dict[str, Any]:
    from . import weights

    return {
        "study": result.study.name,
        "source": result.study.source,
        "slice_order": result.study.slice_order_basis,
        "stages": result.stages,
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
        "peak_memory_mb": (
            round(result.peak_memory_mb, 1) if math.isfinite(result.peak_memory_mb) else None
        ),
        "segments": sorted(result.masks),
        "notes": result.notes,
        "models": weights.expected_checksums(weights.models_dir()),
        "python": platform.python_version(),
    }


def _write_all(result: PipelineResult, tmp: Path, overview: bool, child: bool = False) -> None:
    bullseye = _start_bullseye(result, tmp / "bullseye.png") if child else None
    try:
        _write_files(result, tmp, overview, bullseye)
    except BaseException:
        if bullseye is not None:  # it must not write into the folder the caller removes
            bullseye.kill()
            bullseye.wait()
        raise


def _write_files(
    result: PipelineResult, tmp: Path, overview: bool, bullseye: subprocess.Popen | None
) -> None:
    from . import mrml
    from .logic import add_result_to_scene

    scene = mrml.new_scene()
    volume = mrml.volume_node_from_study(scene, result.study, result.study.name)
    nodes = add_result_to_scene(scene, volume, result)
    mrml.write_segmentation(nodes.segmentation_node, tmp / "segmentation.seg.nrrd")
    for name in TABLE_FILES:
        if name in nodes.table_nodes:
            mrml.write_table(nodes.table_nodes[name], tmp / f"{name}.tsv")
    labels = labels_from_masks(result.masks, result.study.image.shape)
    write_label_map(labels, result.study, tmp / "labels.nii.gz")
    notes = _write_dicom_seg(result, tmp)
    for key, array in result.maps.items():
        # e.g. myocardium_probability.nii.gz: what `scarseg evaluate` reads for the Brier score
        file_name = key.lower().replace(" ", "_").replace("-", "_") + ".nii.gz"
        write_label_map(np.asarray(array, dtype=np.float32), result.study, tmp / file_name)
    mrml.write_mrb(scene, tmp / "scene.mrb")
    if overview:
        from .render import RenderError, render_overview

        try:
            render_overview(
                volume,
                nodes.segmentation_node,
                tmp / "overview.png",
                slices=_covered_slices(result),
            )
        except RenderError as exc:  # no offscreen OpenGL: everything else is still valid
            notes.append(f"overview.png not written: {exc}")
    if "aha" in result.tables and not _child_drew(bullseye):
        from ScarQuantificationLib.bullseye import bullseye_from_table

        bullseye_from_table(result.tables["aha"], "scar_pct", tmp / "bullseye.png",
                            title=_bullseye_title(result))  # fmt: skip
    provenance = _provenance(result)
    provenance["notes"] = [*provenance["notes"], *notes]
    # the marker: what --overwrite may replace next time, and nothing else
    provenance["written_by"] = WRITTEN_BY
    provenance["files"] = sorted({p.name for p in tmp.iterdir()} | {MARKER})
    (tmp / MARKER).write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")


def _bullseye_title(result: PipelineResult) -> str:
    return f"{result.study.name}: scar % per AHA segment"


def _start_bullseye(result: PipelineResult, path: Path) -> subprocess.Popen | None:
    """bullseye.png drawn by a child Python (bullseye_child.py) on another core while this
    process writes the rest; None when there is no AHA table or the child cannot start (the
    caller then draws it itself)."""
    if "aha" not in result.tables:
        return None
    from ScarQuantificationLib.bullseye import bullseye_arguments

    values, kwargs = bullseye_arguments(
        result.tables["aha"], "scar_pct", title=_bullseye_title(result)
    )
    spec = {
        "values": {str(k): None if v is None else float(v) for k, v in values.items()},
        "path": str(path),
        "kwargs": kwargs,
    }
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ScarSegmentationLib.bullseye_child"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        proc.stdin.write(json.dumps(spec).encode())  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    except OSError as exc:
        log.info("bullseye child not started (%s): drawn in this process", exc)
        return None
    return proc


def _child_drew(proc: subprocess.Popen | None) -> bool:
    """Whether the child wrote its PNG; a failure is logged and the caller draws it instead."""
    if proc is None:
        return False
    err = proc.stderr.read() if proc.stderr else b""  # stdin is closed: no communicate()
    if proc.wait() != 0:
        log.warning("bullseye child failed (%s): drawn in this process", err.decode()[-500:])
        return False
    return True


def _write_dicom_seg(result: PipelineResult, tmp: Path) -> list[str]:
    """segmentation.dcm (DICOM SEG over the source series) when the input is a DICOM series;
    the note saying why not when it cannot be written (the other outputs are still valid)."""
    if result.study.metadata.get("format") != "DICOM":
        return []
    from .io.dicom_seg import FILE_NAME, DicomSegError, write_study_seg

    try:
        write_study_seg(result.masks, result.study, tmp / FILE_NAME)
    except DicomSegError as exc:
        note = f"{FILE_NAME} not written: {exc}"
    except ImportError as exc:
        note = f"{FILE_NAME} not written: highdicom is not installed ({exc})"
    else:
        return []
    logging.getLogger(__name__).warning(note)
    return [note]


def _covered_slices(result: PipelineResult) -> list[int]:
    order = [int(k) for k in result.study.apex_to_base]
    myo = result.masks.get("Myocardium")
    if myo is None:
        return order
    covered = [k for k in order if myo[k].any()]
    return covered or order


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new, uniquely named folder with the user's usual permissions (mkdtemp's are 0700)."""
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir()  # mode 0o777 minus the umask, as any folder the user makes
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary folder name in {parent}")


def _replace_into(tmp: Path, out: Path) -> None:
    """Move the new files from tmp into the existing out, replacing only what the earlier run's
    marker lists; put everything back if a move fails."""
    listed = written_files(out) or set()
    existing = {p.name for p in out.iterdir()}
    new = sorted(p.name for p in tmp.iterdir())
    clash = sorted((set(new) & existing) - listed)
    if clash:
        raise InputError(
            f"--overwrite would replace {', '.join(clash)} in {out}, which scarseg did not "
            "write; move them or choose another folder"
        )
    backup = _new_folder(out.parent, f".{out.name}.old-")
    moved_old: list[str] = []
    moved_new: list[str] = []
    try:
        for name in sorted(listed & existing):
            os.replace(out / name, backup / name)
            moved_old.append(name)
        for name in new:
            os.replace(tmp / name, out / name)
            moved_new.append(name)
    except OSError as exc:
        try:
            for name in reversed(moved_new):
                os.replace(out / name, tmp / name)
            for name in reversed(moved_old):
                os.replace(backup / name, out / name)
        except OSError:
            raise ScarSegError(
                f"replacing the outputs in {out} failed ({exc}); the earlier run's files are "
                f"in {backup}"
            ) from exc
        shutil.rmtree(backup, ignore_errors=True)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def write_outputs(
    result: PipelineResult,
    out: Path,
    overwrite: bool = False,
    overview: bool = True,
    child_processes: bool = False,
) -> Path:
    """Every output into `out`, all or nothing. `child_processes`: the bullseye is drawn by a
    child Python in parallel (the command line; not inside Slicer, whose executable is not a
    plain Python)."""
    out = Path(out).absolute()
    check_output_folder(out, overwrite)
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = _new_folder(out.parent, f".{out.name}.partial-")
        _write_all(result, tmp, overview, child_processes)
        if out.exists():
            _replace_into(tmp, out)
        else:
            tmp.rename(out)
    except ScarSegError:
        raise
    except Exception as exc:
        raise ScarSegError(f"writing outputs to {out} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out
