"""DICOM SEG output: the segments as one DICOM Segmentation object over the source MR series.

One segment per structure (myocardium, blood pool, scar, core scar, gray zone, no-reflow), each
with the codes of ScarQuantificationLib.terminology (SNOMED CT where one exists, the project's
local scheme otherwise, declared in the Coding Scheme Identification Sequence). The segments
overlap (scar lies in the myocardium), so the object is BINARY with one frame per segment and
source instance.

Frames are mapped to the source instances by position, never by file or index order: for each
source image, the patient position of its pixel grid (ImagePositionPatient, ImageOrientationPatient,
PixelSpacing) is carried into the index grid of the masks, which must land on whole voxels; the
masks' plane there becomes the frame of that instance (highdicom needs pixel_array[i] to belong
to source_images[i]). So masks on any grid that holds the series' pixels (a volume Slicer loaded
from the series, with k in either direction, or the study `scarseg run` read) are written right.

highdicom is imported when a SEG is written: the command line has it (requirements-runtime.txt);
Slicer 5.12 ships it, and ScarSegmentation installs it before on the first export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pydicom
from ScarQuantificationLib.segments import SEGMENT_COLORS, SEGMENT_NAMES
from ScarQuantificationLib.terminology import LOCAL_SCHEME, SEGMENT_CODES, Code

from ..errors import ScarSegError
from ..study import Study
from .dicom_scan import position_groups, scan_folder

FILE_NAME = "segmentation.dcm"
MANUFACTURER = "MyocardialScar"
MODEL_NAME = "MyocardialScar scar segmentation"
SOFTWARE_VERSION = "0.1.0"
SERIES_DESCRIPTION = "MyocardialScar segmentation"
LOCAL_SCHEME_NAME = "MyocardialScar local codes"
# How far (in voxels) a source pixel may lie from a voxel centre: the DICOM reader accepts slice
# steps that vary by up to 10 %, and positions are rounded in the files.
INDEX_TOLERANCE = 0.25


class DicomSegError(ScarSegError):
    """No DICOM SEG can be written for this input (not a DICOM series, grids do not match...)."""


def source_files_for_study(study: Study) -> list[Path]:
    """The image files of the series a study was read from, one per position, sorted by
    position along the normal. DicomSegError if the study was not read from a DICOM series."""
    meta = study.metadata
    if meta.get("format") != "DICOM" or not meta.get("series_uid"):
        raise DicomSegError(f"{study.name}: not read from a DICOM series")
    folder = Path(study.source)
    infos, _ = scan_folder(folder)
    matches = [s for s in infos if s.uid == meta["series_uid"]]
    if len(matches) > 1 and meta.get("image_type"):
        matches = [s for s in matches if s.slices[0].image_type == meta["image_type"]] or matches
    if len(matches) != 1:
        raise DicomSegError(
            f"series {meta['series_uid']} is no longer (or not only once) in {folder}"
        )
    return [group[0].path for group in position_groups(matches[0].slices)]


def read_sources(files: Sequence[Path | str]) -> list[pydicom.Dataset]:
    """The source instances, sorted by position along their normal (one frame each)."""
    datasets = [pydicom.dcmread(str(f)) for f in files]
    if not datasets:
        raise DicomSegError("no source DICOM instance")
    for ds in datasets:
        if int(ds.get("NumberOfFrames", 1) or 1) != 1:
            raise DicomSegError(
                f"{ds.filename}: multi-frame source images are not supported for DICOM SEG"
            )
        for tag in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
            if tag not in ds:
                raise DicomSegError(f"{ds.filename}: no {tag}, cannot place the segmentation")
    normal = _normal(datasets[0])
    return sorted(
        datasets, key=lambda ds: float(np.asarray(ds.ImagePositionPatient, float) @ normal)
    )


def _normal(ds: pydicom.Dataset) -> np.ndarray:
    iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    return normal / np.linalg.norm(normal)


def frames_on_sources(
    masks: Mapping[str, np.ndarray], index_to_lps: np.ndarray, sources: Sequence[pydicom.Dataset]
) -> np.ndarray:
    """(instances, rows, columns, segments) bool: each mask sampled on each source image's pixel
    grid. `masks` are (k, j, i) arrays on the grid whose 4x4 index (i, j, k) -> LPS mm matrix is
    `index_to_lps`. DicomSegError if a source grid does not fall on whole voxels, or none of the
    source images lies in the masks' grid."""
    arrays = [np.asarray(m, dtype=bool) for m in masks.values()]
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        raise DicomSegError("the segment masks do not have the same shape")
    to_index = np.linalg.inv(np.asarray(index_to_lps, dtype=float))
    stacked = np.stack(arrays, axis=-1)  # (k, j, i, segments)
    frames = []
    placed = 0
    for ds in sources:
        rows, cols = int(ds.Rows), int(ds.Columns)
        iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
        row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
        origin = to_index @ np.append(np.asarray(ds.ImagePositionPatient, dtype=float), 1.0)
        # one column step moves along the row direction, one row step along the column direction
        step_c = to_index[:3, :3] @ (iop[:3] * col_spacing)
        step_r = to_index[:3, :3] @ (iop[3:] * row_spacing)
        for step in (step_c, step_r):
            if np.abs(step - np.rint(step)).max() > 1e-2 or np.abs(np.rint(step)).sum() != 1:
                raise DicomSegError(
                    f"{ds.filename}: its pixel grid is not aligned with the segmentation grid "
                    "(different spacing or orientation); a DICOM SEG needs the series' own grid"
                )
        if np.abs(origin[:3] - np.rint(origin[:3])).max() > INDEX_TOLERANCE:
            raise DicomSegError(
                f"{ds.filename}: its position falls between the segmentation's voxels "
                f"(index {np.round(origin[:3], 2).tolist()})"
            )
        r, c = np.mgrid[0:rows, 0:cols]
        index = (
            np.rint(origin[:3])[:, None, None]
            + np.rint(step_c)[:, None, None] * c
            + np.rint(step_r)[:, None, None] * r
        ).astype(np.int64)  # (3, rows, cols): i, j, k of each source pixel
        i, j, k = index
        inside = (i >= 0) & (i < shape[2]) & (j >= 0) & (j < shape[1]) & (k >= 0) & (k < shape[0])
        frame = np.zeros((rows, cols, len(arrays)), dtype=bool)
        frame[inside] = stacked[k[inside], j[inside], i[inside]]
        placed += bool(inside.any())
        frames.append(frame)
    if not placed:
        raise DicomSegError("none of the source images lies in the segmentation's grid")
    return np.stack(frames)


def _concept(code: Code):  # noqa: ANN202 - highdicom.sr.CodedConcept (imported lazily)
    from highdicom.sr import CodedConcept

    return CodedConcept(value=code.value, scheme_designator=code.scheme, meaning=code.meaning)


def segment_names(masks: Mapping[str, np.ndarray]) -> list[str]:
    """The masks that become segments, in the segmentation's usual order: every one with codes."""
    return [n for n in SEGMENT_NAMES if n in masks and n in SEGMENT_CODES]


def build_dicom_seg(
    masks: Mapping[str, np.ndarray],
    index_to_lps: np.ndarray,
    source_files: Sequence[Path | str],
    *,
    algorithm_type: str = "AUTOMATIC",
    series_number: int | None = None,
) -> pydicom.Dataset:
    """The DICOM Segmentation object (a highdicom Segmentation, a pydicom Dataset)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    names = segment_names(masks)
    if not names:
        raise DicomSegError("no segment with a known meaning to write")
    sources = read_sources(source_files)
    pixels = frames_on_sources({n: masks[n] for n in names}, index_to_lps, sources)
    if not pixels.any():
        raise DicomSegError("every segment is empty: no DICOM SEG written")
    algorithm = hd.AlgorithmIdentificationSequence(
        name=MANUFACTURER,
        family=codes.cid7162.ArtificialIntelligence,
        version=SOFTWARE_VERSION,
    )
    descriptions = []
    for number, name in enumerate(names, start=1):
        segment = SEGMENT_CODES[name]
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=name,
                segmented_property_category=_concept(segment.category),
                segmented_property_type=_concept(segment.type),
                algorithm_type=algorithm_type,
                algorithm_identification=algorithm,
                tracking_uid=hd.UID(),
                tracking_id=name,
                anatomic_regions=[_concept(segment.region)] if segment.region else None,
                display_color=hd.color.CIELabColor.from_rgb(
                    *(int(round(255 * v)) for v in SEGMENT_COLORS[name])
                ),
            )
        )
    source_number = sources[0].get("SeriesNumber")
    if series_number is None:
        series_number = 1000 + int(source_number) if source_number not in (None, "") else 1000
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MODEL_NAME,
        software_versions=SOFTWARE_VERSION,
        device_serial_number="none",
        content_label="MYOCARDIALSCAR",
        content_description="LV myocardium, blood pool and scar",
        series_description=SERIES_DESCRIPTION,
    )
    if any(
        code.scheme == LOCAL_SCHEME
        for n in names
        for code in (SEGMENT_CODES[n].category, SEGMENT_CODES[n].type, SEGMENT_CODES[n].region)
        if code is not None
    ):
        item = pydicom.Dataset()
        item.CodingSchemeDesignator = LOCAL_SCHEME
        item.CodingSchemeName = LOCAL_SCHEME_NAME
        item.CodingSchemeResponsibleOrganization = MANUFACTURER
        seg.CodingSchemeIdentificationSequence = [item]
    return seg


def write_dicom_seg(
    masks: Mapping[str, np.ndarray],
    index_to_lps: np.ndarray,
    source_files: Sequence[Path | str],
    path: Path | str,
    **kwargs: object,
) -> Path:
    """Build the DICOM SEG (see build_dicom_seg) and save it to `path`."""
    seg = build_dicom_seg(masks, index_to_lps, source_files, **kwargs)  # type: ignore[arg-type]
    path = Path(path)
    seg.save_as(str(path))
    return path


def write_study_seg(masks: Mapping[str, np.ndarray], study: Study, path: Path | str) -> Path:
    """The DICOM SEG of a result on the grid of a study read from a DICOM series."""
    return write_dicom_seg(masks, study.index_to_lps(), source_files_for_study(study), path)
