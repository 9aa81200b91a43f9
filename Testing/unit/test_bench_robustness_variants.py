"""bench_robustness's study variants: labels move with the image, geometry stays consistent."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from ScarSegmentationLib.study import Study

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_robustness import VARIANTS, variant  # noqa: E402


@pytest.fixture
def study_and_labels():
    rng = np.random.default_rng(0)
    img = rng.random((3, 6, 8)).astype(np.float32) * 500
    lab = (img > 250).astype(np.uint8) * 2
    study = Study(img, (1.0, 2.0, 8.0), apex_to_base=np.array([2, 1, 0]))
    return study, lab


@pytest.mark.parametrize("name", ["rot90", "rot180", "transpose", "flip_lr", "reversed"])
def test_geometric_variants_move_labels_with_the_image(study_and_labels, name):
    study, lab = study_and_labels
    s, l2 = variant(name, study, lab)
    np.testing.assert_array_equal(l2, (s.image > 250).astype(np.uint8) * 2)
    assert sorted(s.image.ravel()) == pytest.approx(sorted(study.image.ravel()))


def test_swapped_axes_swap_the_in_plane_spacing(study_and_labels):
    study, lab = study_and_labels
    for name in ("rot90", "transpose"):
        s, _ = variant(name, study, lab)
        assert s.image.shape == (3, 8, 6) and s.spacing == (2.0, 1.0, 8.0)
    s, _ = variant("rot180", study, lab)
    assert s.spacing == study.spacing


def test_reversed_slices_keep_apex_to_base_pointing_at_the_same_anatomy(study_and_labels):
    study, lab = study_and_labels
    s, _ = variant("reversed", study, lab)
    for old_k, new_k in zip(study.apex_to_base, s.apex_to_base, strict=True):
        np.testing.assert_array_equal(s.image[new_k], study.image[old_k])


@pytest.mark.parametrize("name", ["gamma0.6", "gamma1.6", "rescaled", "noise"])
def test_intensity_variants_change_values_not_labels(study_and_labels, name):
    study, lab = study_and_labels
    s, l2 = variant(name, study, lab)
    assert l2 is lab and s.image.shape == study.image.shape
    assert np.isfinite(s.image).all() and not np.array_equal(s.image, study.image)


def test_every_listed_variant_exists_and_unknown_ones_are_refused(study_and_labels):
    study, lab = study_and_labels
    for name in VARIANTS:
        variant(name, study, lab)
    with pytest.raises(ValueError, match="unknown variant"):
        variant("sideways", study, lab)
