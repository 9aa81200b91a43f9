"""load_study: any supported input (image file, EMIDEC case folder, DICOM folder) -> a checked Study."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError
from ..study import Study
from .image_file import IMAGE_SUFFIXES, is_image_file, read_image_file
from .slice_order import order_slices
from .validate import validate_study

# File names that hold labels, not the LGE image (EMIDEC Contours/, MyoPS *_gd, *_seg, ...).
_LABEL_NAME = re.compile(
    r"(^|[_\-.])(gd|gt|label|labels|seg|segmentation|mask|contours?|manual)([_\-.]|$)", re.I
)


def load_study(path: Path | str, series: str | None = None) -> Study:
    """Read, validate and slice-order a study.

    path: a NIfTI (.nii/.nii.gz), NRRD (.nrrd/.nhdr) or MetaImage (.mha/.mhd) file; a folder
    holding one such image (also an EMIDEC case folder, via Images/*.nii*); a DICOM folder; or
    one DICOM file (its series is loaded from its folder). series: DICOM series number,
    SeriesInstanceUID or description substring (ignored for image files).
    Raises InputError (nothing is written) when the input cannot be used.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"input does not exist: {path}")
    if path.is_dir():
        study = _load_folder(path, series)
    elif is_image_file(path):
        study = read_image_file(path)
    elif _is_dicom_file(path):
        study = _load_dicom_file(path)
    else:
        study = _read_other_file(path)
    validate_study(study)
    return order_slices(study)


def _load_folder(folder: Path, series: str | None) -> Study:
    images = [p for p in sorted(folder.iterdir()) if is_image_file(p)]
    if not images and (folder / "Images").is_dir():  # EMIDEC case folder: Case_P100/Images/*.nii.gz
        images = [p for p in sorted((folder / "Images").iterdir()) if is_image_file(p)]
    if len(images) > 1:
        not_labels = [p for p in images if not _LABEL_NAME.search(p.name)]
        images = not_labels or images
    if len(images) == 1:
        return read_image_file(images[0])
    if len(images) > 1:
        names = ", ".join(p.name for p in images)
        raise InputError(f"{folder} holds several images ({names}): give the image file itself")
    from .dicom import load_dicom_folder

    return load_dicom_folder(folder, series)


def _is_dicom_file(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(132)
    from .dicom_scan import DICOM_SUFFIXES

    return head[128:132] == b"DICM" or path.name.lower().endswith(DICOM_SUFFIXES)


def _load_dicom_file(path: Path) -> Study:
    """One DICOM file given: load the series it belongs to from its folder."""
    import pydicom

    try:
        uid = str(pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID)
    except Exception as exc:  # noqa: BLE001 - any parse failure: a damaged or non-DICOM file
        raise InputError(
            f"corrupt DICOM file {path}: {type(exc).__name__}: {str(exc)[:120]}"
        ) from None
    from .dicom import load_dicom_folder

    return load_dicom_folder(path.parent, series=uid)


def _read_other_file(path: Path) -> Study:
    """Any other file: try SimpleITK (PNG, TIFF, ...) so the message can say what is wrong."""
    try:
        return read_image_file(path)
    except InputError as exc:
        if "cannot read image file" in str(exc):
            raise InputError(
                f"not an image file: {path} (expected NIfTI {', '.join(IMAGE_SUFFIXES)}, "
                "or a DICOM folder)"
            ) from None
        raise
