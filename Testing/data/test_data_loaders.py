"""Real-data checks of the loaders and the committed split (marker `data`)."""

import numpy as np
import pytest
from ScarSegmentationLib.data import load_emidec_nifti, load_emidec_png, load_myops, load_split

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def emidec(data_dir):
    return load_emidec_png(data_dir)


@pytest.fixture(scope="module")
def myops(data_dir):
    return load_myops(data_dir)


def test_emidec_png(emidec):
    assert len(emidec) == 80
    assert sum("Case_N" in p for p in emidec) == 26
    assert sum(p.num_slices for p in emidec.values()) == 559
    p = emidec["emidec/Case_P100"]
    assert p.spacing is None and p.centre == "emidec"
    assert p.images[0].dtype == np.float32 and p.labels[0].dtype == np.uint8
    assert p.slice_order == sorted(p.slice_order)
    normal = emidec["emidec/Case_N006"]
    assert max(int(lab.max()) for lab in normal.labels) <= 2  # no scar in normal patients


def test_myops_labels_mapped(myops):
    assert len(myops) == 25
    for p in myops.values():
        values = set(np.unique(np.stack(p.labels)).tolist())
        assert values <= {0, 1, 2, 3} and {1, 2, 3} <= values  # scar present in all 25
        assert p.spacing is not None and 0.6 < p.spacing[0] < 0.8
        assert 2 <= p.num_slices <= 6  # Case3011 has 2 slices (README says 3-6)


def test_emidec_nifti_geometry(data_dir):
    p = load_emidec_nifti("Case_P100", data_dir)
    assert p.spacing == pytest.approx((1.40625, 1.40625), abs=1e-4)
    assert p.slice_spacing == pytest.approx(13.0, abs=1e-3)
    assert max(int(lab.max()) for lab in p.labels) >= 3


def test_committed_split_covers_all_patients(emidec, myops):
    s = load_split()
    ids = set(emidec) | set(myops)
    parts = [set(s[k]) for k in ("train", "val", "test")]
    assert set.union(*parts) == ids and sum(len(x) for x in parts) == len(ids)
    assert {"emidec/Case_P100", "emidec/Case_N006"} <= parts[2]
    for part in parts:
        assert any(p.startswith("myops/") for p in part)
