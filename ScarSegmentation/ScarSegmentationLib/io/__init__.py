"""Study input: image files (NIfTI/NRRD/MetaImage), DICOM folders, validation, slice order."""

from .dicom_scan import SeriesInfo, find_dicom_series
from .image_file import array_to_image, read_image_file, write_volume
from .load import load_study
from .slice_order import order_by_lv_area, order_slices
from .validate import validate_study

__all__ = [
    "SeriesInfo",
    "array_to_image",
    "find_dicom_series",
    "load_study",
    "order_by_lv_area",
    "order_slices",
    "read_image_file",
    "validate_study",
    "write_volume",
]
