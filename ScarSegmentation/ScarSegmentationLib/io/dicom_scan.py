"""Scan a DICOM folder (headers only) and describe each image series: is it an LGE stack?

Unreadable files: a file that cannot be parsed at all cannot be assigned to a series, so it is
skipped with a warning that names it (a folder often holds stray files, and one bad file must
not block the other series). If that file was a slice of the chosen series, the slice gap is
then reported by the volume builder, which names the skipped files.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from .slice_order import apex_alignment, is_axis_aligned

log = logging.getLogger(__name__)

DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
POSITION_TOL_MM = 0.1  # two slices closer than this along the normal share a position
_LGE_WORDS = {"lge", "psir", "de", "mde", "late", "delayed", "delay", "ir", "viability", "viab"}
_LOCALIZER_WORDS = {"loc", "localizer", "localiser", "scout", "survey", "3pl"}


@dataclass
class Slice:
    """One DICOM image file's header, reduced to what ordering and reading need."""

    path: Path
    ds: pydicom.Dataset  # header only (read with stop_before_pixels)
    position: np.ndarray | None  # ImagePositionPatient (LPS mm)
    orientation: np.ndarray | None  # ImageOrientationPatient (6,)
    image_type: str


@dataclass
class SeriesInfo:
    """An image series found in a folder, with the reason it cannot be the LGE stack (if any)."""

    uid: str
    number: str
    description: str
    slices: list[Slice] = field(repr=False)
    num_positions: int = 0
    frames_per_position: int = 1
    problem: str | None = None  # None: loadable
    lge_like: bool = False  # description/image type mentions LGE/PSIR/DE/late/...
    localizer: bool = False
    alignment: float | None = None  # cos(stack normal, expected LV long axis)

    @property
    def is_stack(self) -> bool:
        return self.problem is None and self.num_positions >= 2 and not self.localizer

    @property
    def short_axis_like(self) -> bool:
        return self.alignment is not None and abs(self.alignment) >= 0.6

    def label(self) -> str:
        desc = f" '{self.description}'" if self.description else ""
        what = self.problem or (
            f"{self.num_positions} slices" if self.num_positions > 1 else "a single slice"
        )
        return f"series {self.number or '?'}{desc}: {what}"


def find_dicom_series(folder: Path | str) -> list[SeriesInfo]:
    """All DICOM image series under folder (recursive), sorted by series number."""
    return scan_folder(Path(folder))[0]


def scan_folder(folder: Path) -> tuple[list[SeriesInfo], list[str]]:
    """(series, skipped) where skipped names the files that looked like DICOM but were unreadable."""
    groups: dict[str, list[Slice]] = defaultdict(list)
    skipped: list[str] = []
    for path in _files(folder):
        try:
            ds = _read_header(path)
        except Exception as exc:  # noqa: BLE001 - any parse failure means "unreadable file"
            skipped.append(f"{path} ({type(exc).__name__}: {str(exc)[:80]})")
            log.warning("skipped unreadable DICOM file %s: %s", path, exc)
            continue
        if ds is None or "Rows" not in ds or "SeriesInstanceUID" not in ds:
            continue  # not DICOM, or DICOM without an image (DICOMDIR, report, presentation state)
        groups[str(ds.SeriesInstanceUID)].append(_slice(path, ds))
    series: list[SeriesInfo] = []
    for uid, slices in groups.items():
        parts = _split_by_image_type(slices)
        series.extend(_describe(uid, part, split=len(parts) > 1) for part in parts)
    series.sort(key=lambda s: (_as_int(s.number), s.description))
    return series, skipped


def _files(folder: Path) -> list[Path]:
    out = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
    return out


def _read_header(path: Path) -> pydicom.Dataset | None:
    """Header of a DICOM file, None for a non-DICOM file; raises for a damaged DICOM file."""
    with open(path, "rb") as f:
        head = f.read(132)
    has_magic = head[128:132] == b"DICM"
    # Preamble-less DICOM (old GE/ACR-NEMA style) starts with group 0008 or 0002.
    bare = head[:2] in (b"\x08\x00", b"\x02\x00")
    looks_dicom = path.name.lower().endswith(DICOM_SUFFIXES)
    if not (has_magic or bare or looks_dicom):
        return None
    try:
        return pydicom.dcmread(path, stop_before_pixels=True, force=bare and not has_magic)
    except InvalidDicomError:
        if looks_dicom or has_magic:
            raise
        return None


def _slice(path: Path, ds: pydicom.Dataset) -> Slice:
    def floats(name: str) -> np.ndarray | None:
        value = ds.get(name)
        try:
            return np.array([float(v) for v in value], dtype=float) if value is not None else None
        except (TypeError, ValueError):
            return None

    position, orientation = floats("ImagePositionPatient"), floats("ImageOrientationPatient")
    if position is not None and position.shape != (3,):
        position = None
    if orientation is not None and orientation.shape != (6,):
        orientation = None
    image_type = "\\".join(str(v) for v in (ds.get("ImageType") or []))
    return Slice(path, ds, position, orientation, image_type)


def slice_normal(orientation: np.ndarray) -> np.ndarray:
    normal = np.cross(orientation[:3], orientation[3:])
    return normal / np.linalg.norm(normal)


def position_groups(slices: list[Slice]) -> list[list[Slice]]:
    """Slices grouped by position along the normal of the first slice, sorted by that position."""
    normal = slice_normal(slices[0].orientation)  # type: ignore[arg-type]
    ordered = sorted(slices, key=lambda s: float(s.position @ normal))  # type: ignore[operator]
    groups: list[list[Slice]] = []
    last = None
    for s in ordered:
        p = float(s.position @ normal)  # type: ignore[operator]
        if last is None or p - last > POSITION_TOL_MM:
            groups.append([])
        groups[-1].append(s)
        last = p
    return groups


def _has_geometry(slices: list[Slice]) -> bool:
    return all(
        s.position is not None and s.orientation is not None and "PixelSpacing" in s.ds
        for s in slices
    )


def _split_by_image_type(slices: list[Slice]) -> list[list[Slice]]:
    """Split a series that stores e.g. magnitude and phase images at the same positions."""
    types = {s.image_type for s in slices}
    if len(types) < 2 or not _has_geometry(slices) or _orientations(slices) > 1:
        return [slices]
    if all(len(g) == 1 for g in position_groups(slices)):
        return [slices]
    return [[s for s in slices if s.image_type == t] for t in sorted(types)]


def _orientations(slices: list[Slice]) -> int:
    seen: list[np.ndarray] = []
    for s in slices:
        if not any(np.allclose(s.orientation, o, atol=1e-3) for o in seen):  # type: ignore[arg-type]
            seen.append(s.orientation)  # type: ignore[arg-type]
    return len(seen)


def _words(text: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", text.lower())) - {""}


def _describe(uid: str, slices: list[Slice], split: bool = False) -> SeriesInfo:
    ds = slices[0].ds
    description = str(ds.get("SeriesDescription", "") or "").strip()
    if split:  # magnitude and phase of one series: tell them apart by image type
        description = f"{description} [{slices[0].image_type}]".strip()
    info = SeriesInfo(uid, str(ds.get("SeriesNumber", "") or "").strip(), description, slices)
    words = _words(description) | _words(slices[0].image_type)
    info.lge_like = bool(words & _LGE_WORDS)
    info.localizer = bool(words & _LOCALIZER_WORDS) or "LOCALIZER" in slices[0].image_type.upper()
    info.problem = _problem(slices)
    if info.problem is None:
        groups = position_groups(slices)
        info.num_positions = len(groups)
        info.frames_per_position = max(len(g) for g in groups)
        info.problem = _duplicate_problem(groups) or _time_series_problem(
            info.num_positions, info.frames_per_position
        )
        iop = slices[0].orientation
        direction = np.column_stack([iop[:3], iop[3:], slice_normal(iop)])  # type: ignore[index]
        if not is_axis_aligned(direction):
            info.alignment = apex_alignment(direction)
    if info.problem is None and info.localizer:
        info.problem = "a localizer/scout series"
    return info


def _problem(slices: list[Slice]) -> str | None:
    if any(int(s.ds.get("SamplesPerPixel", 1) or 1) > 1 for s in slices):
        return "colour (RGB) images, e.g. a screenshot or secondary capture, not MR intensities"
    if any(int(s.ds.get("NumberOfFrames", 1) or 1) > 1 for s in slices):
        return (
            "multi-frame (enhanced) DICOM, not supported yet: export the series as "
            "single-frame images (classic DICOM)"
        )
    if not _has_geometry(slices):
        return "images without patient geometry (no ImagePositionPatient/Orientation/PixelSpacing)"
    if _orientations(slices) > 1:
        first = slices[0]
        turned = (s for s in slices if not np.allclose(s.orientation, first.orientation, atol=1e-3))  # type: ignore[arg-type]
        other = next(turned)
        return (
            f"images in {_orientations(slices)} different orientations, not one stack "
            f"(e.g. {first.path.name} and {other.path.name})"
        )
    for what, key in (("sizes", _matrix), ("pixel spacings", _pixel_spacing)):
        values = {key(s) for s in slices}
        if len(values) > 1:
            examples = {}
            for s in slices:
                examples.setdefault(key(s), s.path.name)
            shown = ", ".join(f"{v} in {name}" for v, name in list(examples.items())[:3])
            return f"images of {len(values)} different {what}, not one stack ({shown})"
    return None


def _matrix(s: Slice) -> str:
    return f"{int(s.ds.Rows)} x {int(s.ds.Columns)}"


def _pixel_spacing(s: Slice) -> str:
    return " x ".join(f"{float(v):g}" for v in s.ds.PixelSpacing) + " mm"


def _duplicate_problem(groups: list[list[Slice]]) -> str | None:
    """Two images at one slice position where the others have one: a copied or re-sent file, or
    a repeated slice; a time series has the same number of frames at every position."""
    counts = {len(g) for g in groups}
    same_image = next(
        (g for g in groups if len({str(s.ds.get("SOPInstanceUID", id(s))) for s in g}) < len(g)),
        None,
    )
    if same_image is None and (counts == {1} or len(counts) == 1):
        return None
    group = same_image or next(g for g in groups if len(g) > 1)
    names = ", ".join(s.path.name for s in group[:4])
    where = len([g for g in groups if len(g) > 1])
    if same_image:
        kind = "the same image (SOPInstanceUID) in several files"
    else:
        kind = "duplicate slice positions"
    return (
        f"{kind}: {names} share one slice position ({where} of {len(groups)} positions hold "
        "more than one image); remove the extra files"
    )


def _time_series_problem(positions: int, frames: int) -> str | None:
    if frames <= 1:
        return None
    if positions == 1:
        return (
            f"one slice position with {frames} time frames: this is a time series "
            "(e.g. perfusion/cine), not an LGE short-axis stack"
        )
    return (
        f"{positions} slice positions with up to {frames} frames each: a time series "
        "(e.g. cine), not one LGE stack"
    )


def _as_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 1 << 30
