"""Test helper: write a NIfTI (or any SimpleITK) volume as a DICOM MR image series with pydicom.

Used only by tests, to build LGE DICOM series from real NIfTI cases (the shipped EMIDEC sample,
MyoPS cases with their oblique geometry). One classic MR Image Storage file per slice, with the
patient, study, series, frame of reference, equipment, image plane, MR image and SOP common
attributes a scanner writes, and the volume's geometry: ImagePositionPatient from the origin and
the slice direction, ImageOrientationPatient from the first two direction columns, PixelSpacing
(row spacing, column spacing). Values are stored as int16 (rounded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid


@dataclass
class Series:
    folder: Path
    files: list[Path]  # in slice (k) order of the volume
    series_uid: str
    image: sitk.Image  # the written volume's geometry (LPS), as a reader should find it


def oblique_direction(degrees: tuple[float, float, float] = (25.0, -35.0, 15.0)) -> np.ndarray:
    """A right-handed double-oblique direction matrix (columns: i, j, k directions, LPS)."""
    ax, ay, az = np.radians(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def write_mr_series(
    image: sitk.Image,
    folder: Path,
    *,
    direction: np.ndarray | None = None,
    origin: tuple[float, float, float] | None = None,
    series_number: int = 12,
    description: str = "LGE PSIR SAX",
    patient_id: str = "SAMPLE01",
    reverse_files: bool = False,
) -> Series:
    """Write `image` (optionally given another direction/origin) as an MR series in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pixels = sitk.GetArrayFromImage(image)  # (k, j, i)
    spacing = np.asarray(image.GetSpacing(), dtype=float)
    d = np.asarray(
        direction if direction is not None else np.reshape(image.GetDirection(), (3, 3)), float
    )
    o = np.asarray(origin if origin is not None else image.GetOrigin(), dtype=float)
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    files = []
    order = range(pixels.shape[0])
    for n, k in enumerate(reversed(order) if reverse_files else order):
        position = o + k * spacing[2] * d[:, 2]
        ds = _mr_dataset(
            np.rint(pixels[k]).astype(np.int16),
            position=position,
            row=d[:, 0],
            col=d[:, 1],
            pixel_spacing=(spacing[1], spacing[0]),
            thickness=spacing[2],
            uids=(study_uid, series_uid, frame_uid),
            series_number=series_number,
            description=description,
            patient_id=patient_id,
            instance=k + 1,
        )
        path = folder / f"IM{n:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append((k, path))
    written = sitk.GetImageFromArray(pixels)
    written.SetSpacing(tuple(spacing))
    written.SetOrigin(tuple(o))
    written.SetDirection(tuple(d.ravel()))
    return Series(folder, [p for _, p in sorted(files)], series_uid, written)


def _mr_dataset(
    plane: np.ndarray,
    *,
    position: np.ndarray,
    row: np.ndarray,
    col: np.ndarray,
    pixel_spacing: tuple[float, float],
    thickness: float,
    uids: tuple[str, str, str],
    series_number: int,
    description: str,
    patient_id: str,
    instance: int,
) -> Dataset:
    study_uid, series_uid, frame_uid = uids
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    # SOP common
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.SpecificCharacterSet = "ISO_IR 100"
    # patient
    ds.PatientName, ds.PatientID = "SAMPLE^CASE", patient_id
    ds.PatientBirthDate, ds.PatientSex = "19600101", "M"
    # general study
    ds.StudyInstanceUID, ds.StudyID = study_uid, "1"
    ds.StudyDate, ds.StudyTime = "20200101", "120000"
    ds.AccessionNumber, ds.ReferringPhysicianName = "A0001", ""
    ds.StudyDescription = "CMR viability"
    # general series (MR)
    ds.Modality = "MR"
    ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, series_number
    ds.SeriesDescription = description
    ds.SeriesDate, ds.SeriesTime = "20200101", "121500"
    ds.PatientPosition = "HFS"
    # frame of reference, equipment
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame_uid, ""
    ds.Manufacturer, ds.ManufacturerModelName = "TEST", "NIFTI2DICOM"
    ds.MagneticFieldStrength = "1.5"
    # general image
    ds.InstanceNumber = instance
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.ContentDate, ds.ContentTime = "20200101", "121500"
    ds.AcquisitionNumber = 1
    # image plane
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row, *col)]
    ds.PixelSpacing = [f"{pixel_spacing[0]:.8f}", f"{pixel_spacing[1]:.8f}"]
    ds.SliceThickness = f"{thickness:.4f}"
    ds.SpacingBetweenSlices = f"{thickness:.4f}"
    ds.SliceLocation = f"{float(position @ np.cross(row, col)):.4f}"
    # MR image
    ds.ScanningSequence, ds.SequenceVariant = ["GR", "IR"], ["SK", "SP"]
    ds.ScanOptions, ds.MRAcquisitionType = "", "2D"
    ds.RepetitionTime, ds.EchoTime, ds.InversionTime = "700", "3.2", "300"
    ds.EchoTrainLength, ds.FlipAngle = 1, "25"
    ds.ImagedNucleus, ds.NumberOfAverages = "1H", "1"
    # image pixel
    ds.Rows, ds.Columns = plane.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = plane.astype("<i2").tobytes()
    return ds


def instance_positions(files: list[Path]) -> dict[str, np.ndarray]:
    """SOPInstanceUID -> ImagePositionPatient of each file."""
    out = {}
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        out[str(ds.SOPInstanceUID)] = np.asarray(ds.ImagePositionPatient, dtype=float)
    return out


def read_seg_masks(path: Path | str, image: sitk.Image) -> tuple[dict[str, np.ndarray], Dataset]:
    """The segments of a BINARY DICOM SEG file, read with pydicom alone, as (k, j, i) masks on
    the grid of `image`: each frame is placed by its own PlanePositionSequence (and the shared
    orientation and pixel spacing), which must fall on the image's slices. Returns (masks by
    segment label, the dataset)."""
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"  # Segmentation Storage
    assert ds.SegmentationType == "BINARY"
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in ds.SegmentSequence}
    pixels = ds.pixel_array
    if int(ds.NumberOfFrames) == 1:
        pixels = pixels[None]
    shared = ds.SharedFunctionalGroupsSequence[0]
    orientation = np.asarray(
        shared.PlaneOrientationSequence[0].ImageOrientationPatient, dtype=float
    )
    spacing = np.asarray(shared.PixelMeasuresSequence[0].PixelSpacing, dtype=float)
    direction = np.reshape(image.GetDirection(), (3, 3))
    np.testing.assert_allclose(orientation, [*direction[:, 0], *direction[:, 1]], atol=1e-5)
    np.testing.assert_allclose(spacing, image.GetSpacing()[1::-1], rtol=1e-6)
    shape = image.GetSize()[::-1]
    masks = {label: np.zeros(shape, dtype=bool) for label in labels.values()}
    for frame, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        position = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        i, j, k = image.TransformPhysicalPointToContinuousIndex(position)
        np.testing.assert_allclose([i, j, k], [0, 0, round(k)], atol=1e-3)
        masks[labels[number]][round(k)] |= pixels[frame].astype(bool)
    return masks, ds


def frame_sources(ds: Dataset) -> list[tuple[str, np.ndarray]]:
    """(referenced source SOPInstanceUID, frame position) of every frame of a SEG dataset."""
    out = []
    for item in ds.PerFrameFunctionalGroupsSequence:
        source = item.DerivationImageSequence[0].SourceImageSequence[0]
        position = np.asarray(item.PlanePositionSequence[0].ImagePositionPatient, dtype=float)
        out.append((str(source.ReferencedSOPInstanceUID), position))
    return out
