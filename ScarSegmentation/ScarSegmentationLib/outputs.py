"""Write a pipeline result to an output folder: all or nothing.

Files are written into a temporary sibling folder and moved into place only when every file was
written, so a failure never leaves a half-written OUTDIR behind.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from ScarQuantificationLib.segments import EMIDEC_LABELS

from .errors import InputError, ScarSegError
from .pipeline import PipelineResult
from .study import Study

# scar_boxes: the SAM box prompts (detector's, and the scar head's with fused), when it ran.
TABLE_FILES = ("measurements", "slices", "lesions", "aha", "scar_boxes")


def check_output_folder(out: Path, overwrite: bool) -> None:
    """Refuse an existing OUTDIR unless overwriting; called before any work is done."""
    if out.exists() and not overwrite:
        raise InputError(f"output folder {out} exists; choose another or pass --overwrite")
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out} exists and is not a folder")


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
    lines.append(f"  time: {timing}; peak memory {result.peak_memory_mb:.0f} MB")
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
        "peak_memory_mb": round(result.peak_memory_mb, 1),
        "segments": sorted(result.masks),
        "notes": result.notes,
        "models": weights.expected_checksums(weights.models_dir()),
        "python": platform.python_version(),
    }


def _write_all(result: PipelineResult, tmp: Path, overview: bool) -> None:
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
    for key, array in result.maps.items():
        # e.g. myocardium_probability.nii.gz: what `scarseg evaluate` reads for the Brier score
        file_name = key.lower().replace(" ", "_") + ".nii.gz"
        write_label_map(np.asarray(array, dtype=np.float32), result.study, tmp / file_name)
    mrml.write_mrb(scene, tmp / "scene.mrb")
    notes = []
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
    if "aha" in result.tables:
        from ScarQuantificationLib.bullseye import bullseye_from_table

        bullseye_from_table(
            result.tables["aha"],
            "scar_pct",
            tmp / "bullseye.png",
            title=f"{result.study.name}: scar % per AHA segment",
        )
    provenance = _provenance(result)
    provenance["notes"] = [*provenance["notes"], *notes]
    (tmp / "run.json").write_text(json.dumps(provenance, indent=2) + "\n")


def _covered_slices(result: PipelineResult) -> list[int]:
    order = [int(k) for k in result.study.apex_to_base]
    myo = result.masks.get("Myocardium")
    if myo is None:
        return order
    covered = [k for k in order if myo[k].any()]
    return covered or order


def write_outputs(
    result: PipelineResult, out: Path, overwrite: bool = False, overview: bool = True
) -> Path:
    out = Path(out).absolute()
    check_output_folder(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        _write_all(result, tmp, overview)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / out.name)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except ScarSegError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ScarSegError(f"writing outputs to {out} failed: {type(exc).__name__}: {exc}") from exc
    return out
