"""Load the LGE short-axis stack of a DICOM folder into a Study.

Series choice: an explicit `series` (series number, SeriesInstanceUID, or a description
substring) wins; otherwise the only multi-slice stack, else the only LGE-like one (description
mentions LGE/PSIR/DE/MDE/late/delayed/IR), else the only short-axis-like one; when several
remain, InputError lists them and says how to choose. Single-slice series are loaded only when
chosen explicitly (an exam holds many single-slice long-axis LGE views).

Geometry: slices sorted by position along the normal; slice spacing from ImagePositionPatient
differences (not SliceThickness), which must be even; direction from ImageOrientationPatient.
Pixels: pydicom (SimpleITK/GDCM as fallback for compressed files pydicom cannot decode), then
RescaleSlope/Intercept; PSIR (signed) and magnitude values are both kept as they are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk

from ..errors import InputError
from ..study import Study
from .dicom_scan import SeriesInfo, Slice, position_groups, scan_folder, slice_normal

SPACING_TOLERANCE = 0.1  # relative deviation of one slice step from the median step


def load_dicom_folder(folder: Path | str, series: str | None = None) -> Study:
    """Read the LGE stack of a DICOM folder (recursive). Raises InputError when none fits."""
    folder = Path(folder)
    infos, skipped = scan_folder(folder)
    if not infos:
        note = f"; {len(skipped)} unreadable DICOM file(s) skipped: {skipped[0]}" if skipped else ""
        raise InputError(f"found no DICOM image series in {folder} (no image files){note}")
    chosen = choose_series(infos, series, folder)
    return build_study(chosen, folder, skipped)


def choose_series(infos: list[SeriesInfo], series: str | None, folder: Path) -> SeriesInfo:
    if series is not None and str(series).strip():
        return _chosen_by_user(infos, str(series).strip(), folder)
    stacks = [s for s in infos if s.is_stack]
    if not stacks:
        if len(infos) == 1 and infos[0].problem:
            raise InputError(f"{folder}: {infos[0].label()}")
        singles = [s for s in infos if s.problem is None and s.num_positions == 1]
        hint = (
            " To load one single-slice series, choose it with series= (--series)."
            if singles
            else ""
        )
        raise InputError(
            f"no LGE short-axis stack (2 or more slice positions) in {folder}. Found:\n"
            + _listing(infos)
            + hint
        )
    for narrow in (lambda s: s.lge_like, lambda s: s.short_axis_like):
        if len(stacks) > 1 and any(narrow(s) for s in stacks):
            stacks = [s for s in stacks if narrow(s)]
    if len(stacks) == 1:
        return stacks[0]
    raise InputError(
        f"several series in {folder} could be the LGE short-axis stack:\n"
        + _listing(stacks)
        + "\nChoose one with series=<number> or a description substring (command line: --series)."
    )


def _chosen_by_user(infos: list[SeriesInfo], choice: str, folder: Path) -> SeriesInfo:
    matches = [s for s in infos if choice in (s.number, s.uid)]
    if not matches:
        matches = [s for s in infos if choice.lower() in s.description.lower()]
    if not matches:
        raise InputError(f"no series matches '{choice}'. Found:\n" + _listing(infos))
    if len(matches) > 1:
        loadable = [s for s in matches if s.problem is None]
        if len(loadable) != 1:
            raise InputError(
                f"several series match '{choice}':\n"
                + _listing(matches)
                + "\nGive a more specific choice."
            )
        matches = loadable
    chosen = matches[0]
    if chosen.problem:
        raise InputError(f"cannot use {chosen.label()} (in {folder})")
    return chosen


def _listing(infos: list[SeriesInfo]) -> str:
    return "\n".join(f"  - {s.label()}" for s in infos)


def build_study(info: SeriesInfo, folder: Path, skipped: list[str] | None = None) -> Study:
    """Sort, check spacing, read pixels and assemble the Study for one series."""
    skipped = skipped or []
    groups = position_groups(info.slices)
    slices = [g[0] for g in groups]  # one frame per position (checked by the scan)
    iop = slices[0].orientation
    row_dir, col_dir = _orthonormal(iop[:3], iop[3:])  # type: ignore[index]
    normal = slice_normal(np.concatenate([row_dir, col_dir]))
    positions = np.array([s.position @ normal for s in slices])  # type: ignore[operator]
    slice_step = _slice_step(info, slices, positions, skipped, folder)
    _check_in_plane_alignment(info, slices, positions, normal)
    pixel_spacing = [float(v) for v in slices[0].ds.PixelSpacing]
    image, rescale = _read_pixels(info, slices)
    metadata = _metadata(info, slices, rescale, image, skipped)
    patient = str(slices[0].ds.get("PatientID", "") or "").strip()
    name = " ".join(p for p in (patient, f"series {info.number}", info.description) if p)
    return Study(
        image=image,
        spacing=(pixel_spacing[1], pixel_spacing[0], slice_step),
        origin=tuple(float(v) for v in slices[0].position),  # type: ignore[union-attr]
        direction=np.column_stack([row_dir, col_dir, normal]),
        name=name or folder.name,
        source=str(folder),
        metadata=metadata,
    )


def _orthonormal(row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gram-Schmidt: scanners round ImageOrientationPatient to a few decimals."""
    row = row / np.linalg.norm(row)
    col = col - (col @ row) * row
    return row, col / np.linalg.norm(col)


def _slice_step(
    info: SeriesInfo,
    slices: list[Slice],
    positions: np.ndarray,
    skipped: list[str],
    folder: Path,
) -> float:
    if len(slices) == 1:
        ds = slices[0].ds
        for tag in ("SpacingBetweenSlices", "SliceThickness"):
            value = ds.get(tag)
            if value not in (None, "") and float(value) > 0:
                return float(value)
        raise InputError(f"{info.label()}: single slice without SliceThickness (missing spacing)")
    steps = np.diff(positions)
    step = float(np.median(steps))
    bad = np.flatnonzero(np.abs(steps - step) > SPACING_TOLERANCE * step)
    if bad.size:
        details = "; ".join(
            f"{steps[b]:.1f} mm between slices at {positions[b]:.1f} and {positions[b + 1]:.1f} mm"
            for b in bad[:4]
        )
        kind = (
            "gap (missing slice?)"
            if np.any(steps[bad] > 1.5 * step)
            else "non-uniform slice spacing"
        )
        note = f" Unreadable files skipped: {', '.join(skipped[:3])}." if skipped else ""
        raise InputError(
            f"{info.label()} in {folder}: {kind}: {details} (expected {step:.1f} mm).{note}"
        )
    return step


def _check_in_plane_alignment(
    info: SeriesInfo, slices: list[Slice], positions: np.ndarray, normal: np.ndarray
) -> None:
    """A regular grid needs every slice corner on the normal through the first one."""
    first = slices[0].position
    offsets = [
        np.linalg.norm((s.position - first) - (p - positions[0]) * normal)  # type: ignore[operator]
        for s, p in zip(slices, positions, strict=True)
    ]
    tolerance = max(float(v) for v in slices[0].ds.PixelSpacing)
    if max(offsets) > tolerance:
        raise InputError(
            f"{info.label()}: slices are shifted in plane by up to {max(offsets):.1f} mm, "
            "not a regular stack"
        )


def _read_pixels(info: SeriesInfo, slices: list[Slice]) -> tuple[np.ndarray, str]:
    planes = []
    rescales = set()
    for s in slices:
        plane, rescale = _read_plane(info, s)
        planes.append(plane)
        rescales.add(rescale)
    image = np.stack(planes).astype(np.float32)
    if str(slices[0].ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        image = image.max() + image.min() - image  # MONOCHROME1: low values are bright
    rescale = rescales.pop() if len(rescales) == 1 else "per-slice RescaleSlope/Intercept"
    return image, rescale


def _read_plane(info: SeriesInfo, s: Slice) -> tuple[np.ndarray, str]:
    """One slice's real values; a damaged file of the chosen series is an error naming it."""
    rows, cols = int(s.ds.Rows), int(s.ds.Columns)
    try:
        ds = pydicom.dcmread(s.path)
        raw = ds.pixel_array
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        plane = raw.astype(np.float64) * slope + intercept
        rescale = f"slope={slope:g}, intercept={intercept:g}"
    except Exception as pydicom_error:  # noqa: BLE001 - try GDCM (compressed syntaxes) before failing
        try:
            plane = sitk.GetArrayFromImage(sitk.ReadImage(str(s.path), sitk.sitkFloat64))[0]
            rescale = "applied by GDCM"
        except RuntimeError:
            raise InputError(
                f"corrupt DICOM file {s.path} in {info.label()}: cannot read its pixel data "
                f"({type(pydicom_error).__name__}: {str(pydicom_error)[:120]})"
            ) from None
    if plane.shape != (rows, cols):
        raise InputError(
            f"corrupt DICOM file {s.path} in {info.label()}: pixel data is {plane.shape}, "
            f"header says {rows} x {cols}"
        )
    return plane, rescale


def _metadata(
    info: SeriesInfo, slices: list[Slice], rescale: str, image: np.ndarray, skipped: list[str]
) -> dict[str, str]:
    ds = slices[0].ds
    words = f"{info.description} {slices[0].image_type}".upper()
    signed = float(image.min()) < 0 or "PSIR" in words
    meta = {
        "format": "DICOM",
        "series_number": info.number,
        "series_description": info.description,
        "series_uid": info.uid,
        "image_type": slices[0].image_type,
        "manufacturer": str(ds.get("Manufacturer", "") or ""),
        "study_date": str(ds.get("StudyDate", "") or ""),
        "rescale": rescale,
        "contrast": "PSIR (signed values)" if signed else "magnitude",
        "num_files": str(len(slices)),
    }
    if skipped:
        meta["skipped_files"] = "; ".join(skipped)
    return meta
