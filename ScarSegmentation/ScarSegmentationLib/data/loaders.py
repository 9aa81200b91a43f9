"""Loaders for the real datasets, returning per-patient 2D slices with EMIDEC-convention labels.

Labels: 0 background, 1 blood pool, 2 normal myocardium, 3 scar, 4 no-reflow (EMIDEC). MyoPS
labels are mapped (500->1, 200 and 1220->2, 2221->3, 600 (RV) and others->0).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# MyoPS gd value -> EMIDEC label; anything else (incl. 600 = RV blood pool) -> background.
MYOPS_TO_EMIDEC = {500: 1, 200: 2, 1220: 2, 2221: 3}
_PNG_NAME = re.compile(r"^(Case_[NP]\d{3})_slice(\d{3})\.png$")


@dataclass
class PatientSlices:
    """One patient's short-axis slices, in the original stack order."""

    patient_id: str  # e.g. "emidec/Case_P001", "myops/Case3001"
    centre: str  # "emidec" or "myops"
    images: list[np.ndarray]  # 2D float32 raw intensities
    labels: list[np.ndarray]  # 2D uint8, EMIDEC convention
    slice_order: list[int]  # index of each slice in the original stack
    spacing: tuple[float, float] | None = None  # (row, col) mm; None when unknown (EMIDEC PNG)
    slice_spacing: float | None = None  # mm between slices, when known

    @property
    def num_slices(self) -> int:
        return len(self.images)

    def scar_burden(self) -> float:
        """Scar (3+4) pixels / myocardium (2+3+4) pixels over the whole stack."""
        lab = np.stack(self.labels)
        myo = np.count_nonzero(lab >= 2)
        return float(np.count_nonzero(lab >= 3)) / myo if myo else 0.0


def data_dir() -> Path:
    """Env SCARSEG_DATA, else <repo root>/../shared/data."""
    env = os.environ.get("SCARSEG_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]
    return repo.parent / "shared" / "data"


def map_myops_labels(gd: np.ndarray) -> np.ndarray:
    out = np.zeros(gd.shape, dtype=np.uint8)
    for value, label in MYOPS_TO_EMIDEC.items():
        out[gd == value] = label
    return out


def load_emidec_png(root: Path | str | None = None) -> dict[str, PatientSlices]:
    """EMIDEC 2D PNG slices (256x256, spacing unknown) grouped by patient."""
    from skimage import io  # local import: only the loaders need it

    base = Path(root) if root is not None else data_dir()
    base = base / "emidec-png" if (base / "emidec-png").is_dir() else base
    groups: dict[str, list[tuple[int, Path]]] = {}
    for path in sorted((base / "images").glob("*.png")):
        m = _PNG_NAME.match(path.name)
        if m:
            groups.setdefault(m.group(1), []).append((int(m.group(2)), path))
    out: dict[str, PatientSlices] = {}
    for case, items in sorted(groups.items()):
        items.sort()
        images = [io.imread(p).astype(np.float32) for _, p in items]
        labels = [io.imread(base / "labels" / p.name).astype(np.uint8) for _, p in items]
        pid = f"emidec/{case}"
        out[pid] = PatientSlices(pid, "emidec", images, labels, [i for i, _ in items])
    return out


def _read_volume(path: Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    import SimpleITK as sitk

    img = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(img), tuple(float(s) for s in img.GetSpacing())


def load_myops(root: Path | str | None = None) -> dict[str, PatientSlices]:
    """MyoPS 2020 LGE volumes (k, j, i) split into k slices; labels mapped to EMIDEC."""
    base = Path(root) if root is not None else data_dir()
    base = base / "myops-train25" if (base / "myops-train25").is_dir() else base
    out: dict[str, PatientSlices] = {}
    for case_dir in sorted(p for p in base.glob("Case*") if p.is_dir()):
        case = case_dir.name
        img, spacing = _read_volume(case_dir / f"{case}_LGE.nii.gz")
        gd, _ = _read_volume(case_dir / f"{case}_gd.nii.gz")
        lab = map_myops_labels(gd)
        pid = f"myops/{case}"
        out[pid] = PatientSlices(
            pid,
            "myops",
            [s.astype(np.float32) for s in img],
            [s for s in lab],
            list(range(img.shape[0])),
            spacing=(spacing[1], spacing[0]),
            slice_spacing=spacing[2],
        )
    return out


def load_emidec_nifti(case: str, root: Path | str | None = None) -> PatientSlices:
    """One EMIDEC NIfTI case (e.g. "Case_P100") with real spacing."""
    base = Path(root) if root is not None else data_dir()
    base = base / "emidec-nifti" if (base / "emidec-nifti").is_dir() else base
    img, spacing = _read_volume(base / case / "Images" / f"{case}.nii.gz")
    lab, _ = _read_volume(base / case / "Contours" / f"{case}.nii.gz")
    pid = f"emidec/{case}"
    return PatientSlices(
        pid,
        "emidec",
        [s.astype(np.float32) for s in img],
        [s.astype(np.uint8) for s in lab],
        list(range(img.shape[0])),
        spacing=(spacing[1], spacing[0]),
        slice_spacing=spacing[2],
    )


def load_all(root: Path | str | None = None) -> dict[str, PatientSlices]:
    """EMIDEC PNG + MyoPS patients, keyed by patient id."""
    out = load_emidec_png(root)
    out.update(load_myops(root))
    return out
