"""Read label maps and turn EMIDEC, MyoPS or user-defined label values into canonical masks.

Canonical masks (bool, on the label map's grid, keyed by segment name):
"Myocardium" (whole LV myocardium, scar included), "Blood pool", "Scar" (enhanced, no-reflow
included) and "No-reflow". A convention only yields the structures it can express (MyoPS has no
no-reflow class), so comparisons skip what one side cannot describe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CANONICAL = ("Myocardium", "Blood pool", "Scar", "No-reflow")

Mapping_ = dict[str, tuple[int, ...]]

# Label values of each canonical structure.
EMIDEC: Mapping_ = {
    "Myocardium": (2, 3, 4),
    "Blood pool": (1,),
    "Scar": (3, 4),
    "No-reflow": (4,),
}
# MyoPS 2020 gd: 200 normal myocardium, 500 LV blood pool, 600 RV blood pool, 1220 edema,
# 2221 scar. Edema is myocardium that is not scar; the RV is not an LV structure.
MYOPS: Mapping_ = {
    "Myocardium": (200, 1220, 2221),
    "Blood pool": (500,),
    "Scar": (2221,),
}
CONVENTIONS: dict[str, Mapping_] = {"emidec": EMIDEC, "myops": MYOPS}
_VALUES = {"emidec": {0, 1, 2, 3, 4}, "myops": {0, 200, 500, 600, 1220, 2221}}

_ALIASES = {
    "myocardium": "Myocardium",
    "myo": "Myocardium",
    "blood pool": "Blood pool",
    "bloodpool": "Blood pool",
    "blood": "Blood pool",
    "lv": "Blood pool",
    "cavity": "Blood pool",
    "scar": "Scar",
    "infarct": "Scar",
    "no-reflow": "No-reflow",
    "noreflow": "No-reflow",
    "no reflow": "No-reflow",
    "mvo": "No-reflow",
}


class LabelMapError(ValueError):
    """A label map or a label mapping cannot be used (unknown values, bad text, bad file)."""


@dataclass
class LabelMap:
    """An integer label volume (k, j, i) with its geometry in (i, j, k) order, LPS, mm."""

    array: np.ndarray
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    path: str = ""


def read_image(path: str | Path) -> tuple[np.ndarray, tuple, tuple, np.ndarray]:
    """Any SimpleITK-readable volume -> (array (k, j, i), spacing, origin, direction 3x3)."""
    import SimpleITK as sitk  # local import keeps module import light

    path = Path(path)
    if not path.is_file():
        raise LabelMapError(f"{path}: file not found")
    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        msg = str(exc).strip().splitlines()[-1]
        raise LabelMapError(f"{path}: cannot read image ({msg})") from exc
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise LabelMapError(f"{path}: expected a scalar image, got a multi-component image")
    arr = sitk.GetArrayFromImage(img)
    dim = img.GetDimension()
    direction = np.asarray(img.GetDirection(), dtype=float).reshape(dim, dim)
    if dim == 2:  # a single slice: treat as a one-slice stack of 1 mm depth
        arr = arr[None]
        d3 = np.eye(3)
        d3[:2, :2] = direction
        return arr, (*img.GetSpacing(), 1.0), (*img.GetOrigin(), 0.0), d3
    if dim != 3:
        raise LabelMapError(f"{path}: expected a 2D or 3D image, got {dim}D")
    return arr, tuple(img.GetSpacing()), tuple(img.GetOrigin()), direction


def read_label_map(path: str | Path) -> LabelMap:
    """Read a NIfTI / NRRD / MHA label volume; non-integer values are refused."""
    arr, spacing, origin, direction = read_image(path)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise LabelMapError(f"{path}: label map holds non-integer values (an image?)")
    return LabelMap(arr.astype(np.int32), spacing, origin, direction, str(path))


def canonical_name(name: str) -> str:
    key = " ".join(name.strip().lower().replace("_", " ").split())
    if key in _ALIASES:
        return _ALIASES[key]
    raise LabelMapError(f"unknown structure {name!r}; use one of {', '.join(CANONICAL)}")


def parse_mapping(text: str) -> Mapping_:
    """Parse "scar=3,4;myocardium=2,3,4;blood pool=1" (case-insensitive names, ';' between)."""
    mapping: Mapping_ = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        if "=" not in part:
            raise LabelMapError(f"mapping entry {part!r} is not NAME=V1,V2")
        name, values = part.split("=", 1)
        try:
            vals = tuple(int(v) for v in re.split(r"[,\s]+", values.strip()) if v)
        except ValueError as exc:
            raise LabelMapError(f"mapping entry {part!r}: values must be integers") from exc
        if not vals:
            raise LabelMapError(f"mapping entry {part!r} has no values")
        mapping[canonical_name(name)] = vals
    if not mapping:
        raise LabelMapError(f"empty label mapping {text!r}")
    return mapping


def detect_convention(values: Iterable[int]) -> str:
    """'emidec' or 'myops' from the label values present; raises when neither fits."""
    present = {int(v) for v in values}
    if present <= _VALUES["emidec"]:
        return "emidec"
    if present <= _VALUES["myops"]:
        return "myops"
    raise LabelMapError(
        f"label values {sorted(present)} match neither EMIDEC (0-4) nor MyoPS "
        "(200, 500, 600, 1220, 2221); give a mapping such as 'scar=3,4;myocardium=2,3,4'"
    )


def resolve_mapping(convention: str | Mapping[str, Iterable[int]], labels: np.ndarray) -> Mapping_:
    """'auto' | 'emidec' | 'myops' | mapping text | mapping dict -> mapping dict."""
    if isinstance(convention, Mapping):
        return {canonical_name(k): tuple(int(v) for v in vs) for k, vs in convention.items()}
    name = convention.strip().lower()
    if name == "auto":
        return CONVENTIONS[detect_convention(np.unique(labels))]
    if name in CONVENTIONS:
        return CONVENTIONS[name]
    return parse_mapping(convention)


def to_masks(
    labels: np.ndarray, convention: str | Mapping[str, Iterable[int]] = "auto"
) -> dict[str, np.ndarray]:
    """Canonical masks from a label array.

    Nesting is enforced as in the segment conventions: no-reflow is part of the scar and the scar
    is part of the myocardium, whatever the mapping says.
    """
    labels = np.asarray(labels)
    mapping = resolve_mapping(convention, labels)
    masks = {name: np.isin(labels, vals) for name, vals in mapping.items()}
    if "No-reflow" in masks and "Scar" in masks:
        masks["Scar"] |= masks["No-reflow"]
    if "Scar" in masks and "Myocardium" in masks:
        masks["Myocardium"] |= masks["Scar"]
    return {name: masks[name] for name in CANONICAL if name in masks}


def to_emidec(masks: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Canonical masks -> EMIDEC label array (1 blood pool, 2 myocardium, 3 scar, 4 no-reflow)."""
    out = np.zeros(shape, dtype=np.uint8)
    for name, value in (("Blood pool", 1), ("Myocardium", 2), ("Scar", 3), ("No-reflow", 4)):
        if name in masks:
            out[np.asarray(masks[name], dtype=bool)] = value
    return out
