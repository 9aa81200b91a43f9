"""Files of the validation workflow: find and pair cases, check grids, write TSV tables.

Case discovery in a folder (the first rule that finds anything wins):
1. `**/labels.nii.gz` (our `scarseg run` output folders): case = the folder name;
2. `**/*_gd.nii.gz` (MyoPS): case = the file name without `_gd`;
3. `**/Contours/*.nii.gz` (EMIDEC): case = the case folder holding `Contours/`;
4. label files directly in the folder (.nii.gz, .nii, .nrrd, .mha): case = the file name.
A file, or a folder holding `labels.nii.gz` itself, is a single case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .label_maps import LabelMap, LabelMapError
from .table import Table

LABEL_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
OUR_LABELS = "labels.nii.gz"
# Optional probability volumes next to labels.nii.gz (values 0..1, same grid), for the Brier score.
PROBABILITY_FILES = {
    "Myocardium": "myocardium_probability.nii.gz",
    "Blood pool": "blood_pool_probability.nii.gz",
    "Scar": "scar_probability.nii.gz",
    "No-reflow": "no_reflow_probability.nii.gz",
}


class GridMismatchError(ValueError):
    """Prediction and reference are not on the same voxel grid."""


@dataclass
class CaseFiles:
    name: str
    labels: Path
    folder: Path | None = None  # our output folder, where probability volumes may be
    extra: dict[str, Path] = field(default_factory=dict)


def _strip_suffix(path: Path) -> str:
    name = path.name
    for suffix in LABEL_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _is_label_file(path: Path) -> bool:
    low = path.name.lower()
    return path.is_file() and low.endswith(LABEL_SUFFIXES) and not low.endswith(".seg.nrrd")


def find_cases(path: Path) -> dict[str, CaseFiles]:
    """Cases in a file or folder (rules in the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_file():
        name = _strip_suffix(path)
        if path.name == OUR_LABELS:
            return {path.parent.name: CaseFiles(path.parent.name, path, path.parent)}
        return {name.removesuffix("_gd"): CaseFiles(name.removesuffix("_gd"), path)}
    if (path / OUR_LABELS).is_file():
        return {path.name: CaseFiles(path.name, path / OUR_LABELS, path)}
    rules = [
        (sorted(path.rglob(OUR_LABELS)), lambda p: p.parent.name, True),
        (
            sorted(p for p in path.rglob("*_gd.*") if _is_label_file(p)),
            lambda p: _strip_suffix(p)[:-3],
            False,
        ),
        (
            sorted(p for p in path.rglob("Contours/*") if _is_label_file(p)),
            lambda p: p.parent.parent.name,
            False,
        ),
        (sorted(p for p in path.iterdir() if _is_label_file(p)), _strip_suffix, False),
    ]
    for files, namer, ours in rules:
        if not files:
            continue
        cases: dict[str, CaseFiles] = {}
        for f in files:
            name = namer(f)
            if name in cases:
                raise LabelMapError(
                    f"two label maps for case {name!r}: {cases[name].labels} and {f}"
                )
            cases[name] = CaseFiles(name, f, f.parent if ours else None)
        return cases
    raise LabelMapError(
        f"{path}: no label maps found (expected */labels.nii.gz, *_gd.nii.gz, "
        "*/Contours/*.nii.gz or label files in the folder)"
    )


def pair_cases(
    pred: Path, ref: Path
) -> tuple[list[tuple[CaseFiles, CaseFiles]], list[str], list[str]]:
    """(pairs, unmatched prediction names, unmatched reference names).

    One case on each side pairs whatever the names; otherwise cases pair by name (exact first,
    then ignoring case). Raises ValueError when nothing pairs.
    """
    pc, rc = find_cases(pred), find_cases(ref)
    if len(pc) == 1 and len(rc) == 1:
        return [(next(iter(pc.values())), next(iter(rc.values())))], [], []
    ref_by_lower = {k.lower(): v for k, v in rc.items()}
    pairs, used = [], set()
    for name, p in sorted(pc.items()):
        r = rc.get(name) or ref_by_lower.get(name.lower())
        if r is not None and r.name not in used:
            pairs.append((p, r))
            used.add(r.name)
    un_pred = sorted(set(pc) - {p.name for p, _ in pairs})
    un_ref = sorted(set(rc) - used)
    if not pairs:
        raise ValueError(
            f"no case names in common between {pred} ({', '.join(sorted(pc)[:5])}...) and "
            f"{ref} ({', '.join(sorted(rc)[:5])}...)"
        )
    return pairs, un_pred, un_ref


def probability_paths(case: CaseFiles) -> dict[str, Path]:
    if case.folder is None:
        return {}
    return {s: case.folder / f for s, f in PROBABILITY_FILES.items() if (case.folder / f).is_file()}


def check_same_grid(
    pred: LabelMap,
    ref: LabelMap,
    name: str = "",
    check_geometry: bool = True,
    spacing_rtol: float = 1e-3,
    origin_atol_mm: float = 0.01,
    direction_atol: float = 1e-3,
) -> None:
    """Raise GridMismatchError naming every difference; size always, geometry when asked."""
    problems = []
    if pred.array.shape != ref.array.shape:
        problems.append(f"size (k, j, i) {pred.array.shape} vs {ref.array.shape}")
    if check_geometry:
        if not np.allclose(pred.spacing, ref.spacing, rtol=spacing_rtol, atol=0):
            problems.append(f"spacing {_fmt(pred.spacing)} vs {_fmt(ref.spacing)} mm")
        if not np.allclose(pred.origin, ref.origin, rtol=0, atol=origin_atol_mm):
            problems.append(f"origin {_fmt(pred.origin)} vs {_fmt(ref.origin)} mm")
        if not np.allclose(pred.direction, ref.direction, rtol=0, atol=direction_atol):
            problems.append("direction matrices differ")
    if problems:
        who = f"{name}: " if name else ""
        raise GridMismatchError(
            f"{who}prediction {pred.path or '(array)'} and reference {ref.path or '(array)'} are "
            f"not on the same grid: {'; '.join(problems)}. Resample the prediction onto the "
            "reference grid (or skip the header check only if the voxels truly correspond)."
        )


def _fmt(values: tuple) -> str:
    return "(" + ", ".join(f"{float(v):.4g}" for v in values) + ")"


SCHEMA_HEADER = ("columnName", "type", "unitLabel", "title", "longName", "description")


def write_tsv(table: Table, path: Path) -> tuple[Path, Path]:
    """`<name>.tsv` and `<name>.schema.tsv` as Slicer's table storage node reads them.

    The schema carries both `title` (Slicer >= 5.4) and `longName` (older Slicer).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [c.name for c in table.columns]
    lines = ["\t".join(names)]
    lines += ["\t".join(_cell(table, row, n) for n in names) for row in table.rows]
    path.write_text("\n".join(lines) + "\n")
    schema = path.with_name(path.name.removesuffix(".tsv") + ".schema.tsv")
    rows = ["\t".join(SCHEMA_HEADER)]
    for c in table.columns:
        title = c.name.replace("_", " ")
        rows.append("\t".join([c.name, c.type, c.unit, title, title, _clean(c.description)]))
    schema.write_text("\n".join(rows) + "\n")
    return path, schema


def _clean(text: str) -> str:
    return " ".join(str(text).replace("\t", " ").split())


def _cell(table: Table, row: dict, name: str) -> str:
    return _clean(table.formatted(row, name))


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Rows of a TSV written by write_tsv (values as text, '' for missing)."""
    lines = Path(path).read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:] if line]
