"""NIfTI / NRRD / MetaImage reading and writing through SimpleITK, keeping the full geometry.

Geometry is kept exactly as SimpleITK reads it (LPS). EMIDEC NIfTIs carry an sform that is a
unit-scale flip with the spacing only in pixdim: SimpleITK reads the spacing right and warns
"unexpected scales in sform"; the warning is silenced here and recorded in study.metadata.
ITK silently substitutes 1 mm for a missing or zero spacing, so the headers are checked here;
and it fills what is missing of a file cut short with zeros, so the voxel data is counted first
(integrity.py).
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..study import Study
from .integrity import check_data_complete
from .validate import validate_image_shape

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(IMAGE_SUFFIXES)


def image_stem(path: Path) -> str:
    name = path.name
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


@contextlib.contextmanager
def quiet_itk() -> Iterator[None]:
    """Silence ITK's console warnings (e.g. the EMIDEC sform one) and restore the setting."""
    previous = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(previous)


def read_image_file(path: Path | str) -> Study:
    """Read a 3D scalar image file into a Study (float32, (k, j, i)); slice order not yet set."""
    path = Path(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        with quiet_itk():
            check_data_complete(path)  # before anything reads the voxels
            reader.ReadImageInformation()
            header = {k: reader.GetMetaData(k) for k in reader.GetMetaDataKeys()}
            size = reader.GetSize()
            validate_image_shape(tuple(size)[::-1], reader.GetNumberOfComponents(), str(path))
            _check_header_spacing(path, header)
            image = reader.Execute()
    except RuntimeError as exc:
        raise InputError(f"cannot read image file {path}: {_itk_reason(exc)}") from None
    metadata = {"format": _format_name(path)}
    note = _sform_note(header, image.GetSpacing())
    if note:
        metadata["geometry_note"] = note
    return Study(
        image=sitk.GetArrayFromImage(image).astype(np.float32, copy=False),
        spacing=tuple(float(s) for s in image.GetSpacing()),
        origin=tuple(float(o) for o in image.GetOrigin()),
        direction=np.array(image.GetDirection(), dtype=float).reshape(3, 3),
        name=image_stem(path),
        source=str(path),
        metadata=metadata,
    )


def array_to_image(array: np.ndarray, study: Study) -> sitk.Image:
    """A (k, j, i) array on the study grid as a SimpleITK image with the study's geometry."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing(tuple(float(s) for s in study.spacing))
    image.SetOrigin(tuple(float(o) for o in study.origin))
    image.SetDirection(tuple(float(d) for d in np.asarray(study.direction).ravel()))
    return image


def write_volume(path: Path | str, array: np.ndarray, study: Study) -> Path:
    """Write a (k, j, i) array with the study's geometry (format from the file name)."""
    path = Path(path)
    sitk.WriteImage(array_to_image(array, study), str(path), useCompression=True)
    return path


def _itk_reason(exc: RuntimeError) -> str:
    text = str(exc)
    if "Unable to determine ImageIO reader" in text:
        return "not an image file SimpleITK can read (expected NIfTI, NRRD or MetaImage)"
    last = [line.strip() for line in text.splitlines() if line.strip()]
    return last[-1] if last else "unreadable"


def _format_name(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return "NIfTI"
    if name.endswith((".nrrd", ".nhdr")):
        return "NRRD"
    return "MetaImage"


def _check_header_spacing(path: Path, header: dict[str, str]) -> None:
    """Refuse headers whose spacing is absent/zero: ITK would silently use 1 mm."""
    if "pixdim[1]" in header:
        _check_nifti_raw(path)
        return
    text = _text_header(path)
    if text is None:
        return
    keys = {line.split(":" if ":" in line else "=")[0].strip().lower() for line in text}
    if _format_name(path) == "NRRD":
        has = bool({"space directions", "spacings"} & keys)
    else:
        has = bool({"elementspacing", "elementsize"} & keys)
    if not has:
        raise InputError(f"missing voxel spacing in the header of {path} (ITK would assume 1 mm)")


def _check_nifti_raw(path: Path) -> None:
    """What NIfTI libraries hide: pixdim 0 (ITK and nibabel use 1) and NaN/inf (ITK reads 0)."""
    pixdim = _raw_nifti_pixdim(path)
    if pixdim is not None and any(not np.isfinite(p) or p <= 0 for p in pixdim):
        raise InputError(
            f"missing, zero or negative voxel spacing in the NIfTI header of {path} (pixdim = {pixdim})"
        )
    import nibabel  # local import: only NIfTI input needs it

    try:
        nii = nibabel.load(str(path))
    except Exception:  # noqa: BLE001 - let SimpleITK's reader give the error
        return
    if np.issubdtype(nii.header.get_data_dtype(), np.floating):
        try:
            data = np.asanyarray(nii.dataobj)
        except Exception as exc:  # noqa: BLE001 - whatever nibabel raises, name the file
            raise InputError(
                f"cannot read the voxel data of {path}: {type(exc).__name__}: {str(exc)[:120]}"
            ) from None
        bad = int(data.size - np.count_nonzero(np.isfinite(data)))
        if bad:
            raise InputError(f"{bad} voxels are NaN or infinite in {path}: the image is corrupt")


def _raw_nifti_pixdim(path: Path) -> list[float] | None:
    """pixdim[1..min(ndim, 3)] exactly as stored (NIfTI-1 or NIfTI-2), or None if unreadable."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read(540)
    except OSError:
        return None
    for order in "<>":
        size = int(np.frombuffer(raw[:4], f"{order}i4")[0])
        if size == 348:  # NIfTI-1: dim int16 at 40, pixdim float32 at 76
            dim = np.frombuffer(raw[40:56], f"{order}i2")
            pixdim = np.frombuffer(raw[76:108], f"{order}f4")
        elif size == 540:  # NIfTI-2: dim int64 at 16, pixdim float64 at 104
            dim = np.frombuffer(raw[16:80], f"{order}i8")
            pixdim = np.frombuffer(raw[104:168], f"{order}f8")
        else:
            continue
        ndim = int(dim[0])
        return [float(v) for v in pixdim[1 : min(max(ndim, 1), 3) + 1]]
    return None


def _text_header(path: Path) -> list[str] | None:
    """Header lines of a NRRD or MetaImage file (text up to the data), or None."""
    if _format_name(path) == "NIfTI":
        return None
    with open(path, "rb") as f:
        raw = f.read(65536)
    lines: list[str] = []
    for line in raw.split(b"\n"):
        if not line.strip():
            break  # NRRD: a blank line ends the header
        text = line.decode("latin-1").strip()
        lines.append(text)
        if text.lower().startswith("elementdatafile"):
            break  # MetaImage: the last header field
    return lines


def _sform_note(header: dict[str, str], spacing: tuple[float, ...]) -> str | None:
    """Describe a NIfTI sform without voxel scales (EMIDEC), where geometry is not patient-based."""
    if header.get("sform_code", "0") in ("0", "") or "srow_x" not in header:
        return None
    rows = np.array([[float(v) for v in header[f"srow_{a}"].split()[:3]] for a in "xyz"])
    scales = np.linalg.norm(rows, axis=0)
    if np.allclose(scales, 1.0, atol=1e-3) and not np.allclose(spacing, 1.0, atol=1e-3):
        return (
            "NIfTI sform has unit scales (no voxel size): spacing taken from pixdim; "
            "the orientation is probably not the scanner's"
        )
    return None
