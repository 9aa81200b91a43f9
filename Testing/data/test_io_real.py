"""load_study on the real data in ../shared/data (marker `data`; skipped with a reason when absent)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from ScarSegmentationLib.errors import InputError
from ScarSegmentationLib.io import find_dicom_series, load_study
from ScarSegmentationLib.io.image_file import quiet_itk

pytestmark = pytest.mark.data


def require(path):
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def _lv_area(label_path):
    with quiet_itk():  # EMIDEC label files carry the same odd sform
        lab = sitk.GetArrayFromImage(sitk.ReadImage(str(label_path)))
    lv = np.isin(lab, [200, 500, 1220, 2221]) if lab.max() > 10 else (lab >= 1) & (lab <= 4)
    return lv.sum(axis=(1, 2))


def test_emidec_case_folder(data_dir, capfd):
    case = require(data_dir / "emidec-nifti" / "Case_P100")
    study = load_study(case)
    assert study.image.shape == (7, 258, 248) and study.image.dtype == np.float32
    np.testing.assert_allclose(study.spacing, (1.40625, 1.40625, 13.0), atol=1e-4)
    assert "unexpected scales" not in capfd.readouterr().err  # ITK warning silenced
    assert "unit scales" in study.metadata["geometry_note"]
    # geometry is a unit-scale flip: no orientation -> input order, which is apex first here
    assert study.slice_order_basis.startswith("input order")
    area = _lv_area(case / "Contours" / "Case_P100.nii.gz")
    assert area[study.apex_to_base[0]] < area[study.apex_to_base[-1]]


def test_emidec_n006_file(data_dir):
    path = require(data_dir / "emidec-nifti" / "Case_N006" / "Images" / "Case_N006.nii.gz")
    study = load_study(path)
    np.testing.assert_allclose(study.spacing, (1.4583, 1.4583, 10.0), atol=1e-3)
    assert study.num_slices == 9


def test_myops_case_loads(data_dir):
    case = require(data_dir / "myops-train25" / "Case3001")
    study = load_study(case)  # the folder: the LGE image is chosen over the _gd label file
    assert study.name == "Case3001_LGE" and study.num_slices == 5
    np.testing.assert_allclose(study.spacing[:2], (0.729, 0.729), atol=1e-3)
    assert study.slice_order_basis.startswith("geometry")


def test_myops_geometric_order_matches_lv_area(data_dir):
    """Geometry puts the small-LV end first in (nearly) every MyoPS case."""
    cases = sorted(p for p in require(data_dir / "myops-train25").glob("Case*") if p.is_dir())
    correct = 0
    for case in cases:
        study = load_study(case / f"{case.name}_LGE.nii.gz")
        assert study.slice_order_basis.startswith("geometry"), case.name
        area = _lv_area(case / f"{case.name}_gd.nii.gz")
        correct += int(area[study.apex_to_base[0]] < area[study.apex_to_base[-1]])
    assert len(cases) == 25
    assert correct >= 24  # Case3008: 3 slices, basal LV area 1.6% below the apical one


def test_ge_perfusion_refused_as_time_series(data_dir):
    folder = require(data_dir / "dicom-perfusion-ge")
    series = find_dicom_series(folder)
    assert len(series) == 1 and len(series[0].slices) == 79
    with pytest.raises(InputError) as exc:
        load_study(folder)
    assert "one slice position with 79 time frames" in str(exc.value)
    assert "not an LGE short-axis stack" in str(exc.value)
