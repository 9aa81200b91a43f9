"""Fixtures for tests on a real slicer-core scene: a small synthetic oblique annulus study."""

from __future__ import annotations

import numpy as np
import pytest
from ScarSegmentationLib.mrml_scene import new_scene
from ScarSegmentationLib.study import Study
from scipy.spatial.transform import Rotation

SHAPE = (6, 48, 56)  # (k, j, i)
CENTRE_JI = (22.0, 30.0)


def _annulus_masks(shape: tuple[int, int, int] = SHAPE) -> dict[str, np.ndarray]:
    k, j, i = np.indices(shape)
    r = np.hypot(j - CENTRE_JI[0], i - CENTRE_JI[1])
    inner = 9.0 - 0.5 * k  # the cavity narrows towards the apex (k = 0 is the base here)
    myo = (r >= inner) & (r < inner + 5) & (k > 0)
    scar = myo & (i > CENTRE_JI[1] + 2) & (j < CENTRE_JI[0]) & (k > 1)
    return {
        "Myocardium": myo,
        "Blood pool": (r < inner) & (k > 0),
        "Scar": scar,
        "No-reflow": np.zeros(shape, dtype=bool),  # the stage ran and found none
    }


@pytest.fixture
def masks() -> dict[str, np.ndarray]:
    return _annulus_masks()


@pytest.fixture
def study(masks) -> Study:
    """Oblique directions, anisotropic spacing, non-zero origin, LGE-like intensities."""
    rng = np.random.default_rng(7)
    image = np.full(SHAPE, 40.0, dtype=np.float32)
    image[masks["Blood pool"]] = 250.0
    image[masks["Myocardium"]] = 70.0
    image[masks["Scar"]] = 450.0
    image += rng.normal(0.0, 8.0, SHAPE).astype(np.float32)
    direction = Rotation.from_euler("xyz", [25.0, -40.0, 65.0], degrees=True).as_matrix()
    return Study(
        image=image,
        spacing=(1.37, 1.21, 8.5),
        origin=(-31.5, 12.25, 48.0),
        direction=direction,
        name="annulus",
    )


@pytest.fixture
def scene():
    return new_scene()
