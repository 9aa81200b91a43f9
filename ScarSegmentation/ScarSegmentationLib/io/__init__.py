"""Study input: image files (NIfTI/NRRD/MetaImage), DICOM folders, validation, slice order.

Names are imported on first use (PEP 562): reading a NIfTI does not pay for importing pydicom.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "SeriesInfo": "dicom_scan",
    "find_dicom_series": "dicom_scan",
    "array_to_image": "image_file",
    "read_image_file": "image_file",
    "write_volume": "image_file",
    "load_study": "load",
    "order_by_lv_area": "slice_order",
    "order_slices": "slice_order",
    "validate_study": "validate",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
