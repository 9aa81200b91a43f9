"""The child's results on disk: what the child process writes and the parent reads back.

The child runs in Slicer's standalone Python (PythonSlicer), which has numpy, SimpleITK and the
pip packages but not Slicer's MRML libraries (those need the application), so it writes no MRML
files: the masks and maps go into one .npz (exact: bool masks, float32 maps, on the input grid)
and the tables, notes and timings into a JSON file written last (its presence marks a complete
folder). The parent reads them into a PipelineResult and adds it to the scene with the same
function the in-process logic uses (logic.add_result_to_scene). Nothing here imports slicer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from ScarQuantificationLib.table import Column, Table

from .errors import ScarSegError
from .pipeline import PipelineResult
from .study import Study

FORMAT = "scarseg-child-result/1"
ARRAYS = "result.npz"
SUMMARY = "result.json"  # written last


class ChildResultError(ScarSegError):
    """The child's results folder is missing, incomplete or does not fit the study."""


def write_child_result(result: PipelineResult, folder: str | Path) -> Path:
    """Masks, maps, tables, notes and timings of `result` into `folder` (created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    masks = list(result.masks)
    maps = list(result.maps)
    arrays = {f"mask_{n}": np.asarray(result.masks[k], dtype=bool) for n, k in enumerate(masks)}
    arrays.update(
        {f"map_{n}": np.asarray(result.maps[k], dtype=np.float32) for n, k in enumerate(maps)}
    )
    np.savez(folder / ARRAYS, **arrays)
    summary = {
        "format": FORMAT,
        "shape": list(result.study.image.shape),
        "masks": masks,
        "maps": maps,
        "tables": {key: _table_to_json(table) for key, table in result.tables.items()},
        "notes": list(result.notes),
        "stages": list(result.stages),
        "seconds": {k: float(v) for k, v in result.seconds.items()},
        "peak_memory_mb": _plain(result.peak_memory_mb),
    }
    text = json.dumps(summary, default=_plain, indent=1)
    (folder / SUMMARY).write_text(text + "\n", encoding="utf-8")
    return folder


def read_child_result(folder: str | Path, study: Study) -> PipelineResult:
    """The PipelineResult the child wrote into `folder`, for `study` (the study that was run);
    ChildResultError when the folder is incomplete or its arrays are not on the study's grid."""
    folder = Path(folder)
    try:
        summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ChildResultError(f"{folder}: no readable {SUMMARY} ({exc})") from exc
    if not isinstance(summary, dict) or summary.get("format") != FORMAT:
        raise ChildResultError(f"{folder / SUMMARY}: not a {FORMAT} file")
    shape = tuple(study.image.shape)
    if tuple(summary.get("shape", ())) != shape:
        raise ChildResultError(
            f"the results are for a study of shape {summary.get('shape')}, not {list(shape)}"
        )
    try:
        with np.load(folder / ARRAYS, allow_pickle=False) as data:
            masks = {k: data[f"mask_{n}"].astype(bool) for n, k in enumerate(summary["masks"])}
            maps = {k: data[f"map_{n}"].astype(np.float32) for n, k in enumerate(summary["maps"])}
    except (OSError, KeyError, ValueError) as exc:
        raise ChildResultError(f"{folder / ARRAYS}: cannot be read ({exc})") from exc
    for name, array in {**masks, **maps}.items():
        if array.shape != shape:
            raise ChildResultError(f"{name!r} has shape {array.shape}, the study {shape}")
    peak = summary.get("peak_memory_mb")
    return PipelineResult(
        study=study,
        masks=masks,
        maps=maps,
        tables={k: _table_from_json(k, v) for k, v in summary.get("tables", {}).items()},
        slice_info={},
        boxes=[],
        notes=list(summary.get("notes", [])),
        stages=list(summary.get("stages", [])),
        seconds={k: float(v) for k, v in summary.get("seconds", {}).items()},
        peak_memory_mb=float(peak) if peak is not None else math.nan,
    )


def _table_to_json(table: Table) -> dict[str, Any]:
    return {
        "name": table.name,
        "columns": [[c.name, c.type, c.unit, c.description] for c in table.columns],
        "rows": [{k: _plain(v) for k, v in row.items()} for row in table.rows],
    }


def _table_from_json(key: str, data: dict[str, Any]) -> Table:
    columns = [Column(*c) for c in data["columns"]]
    return Table(data.get("name", key), columns, [dict(r) for r in data["rows"]])


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones; NaN and infinities as None (JSON has neither)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
