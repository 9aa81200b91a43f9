"""Training/evaluation data: loaders for the real datasets and the patient-level split."""

from .loaders import (
    PatientSlices,
    data_dir,
    load_all,
    load_emidec_nifti,
    load_emidec_png,
    load_myops,
    map_myops_labels,
)
from .split import load_split, make_split, split_path

__all__ = [
    "PatientSlices",
    "data_dir",
    "load_all",
    "load_emidec_nifti",
    "load_emidec_png",
    "load_myops",
    "map_myops_labels",
    "load_split",
    "make_split",
    "split_path",
]
