"""Quarter-scar ring on an oblique grid, as MRML nodes, for the quantification logic tests.

The scar is the 90-degree sector [0, 90) of a circular myocardial ring: its bright part [0, 60)
is core scar for any FWHM threshold, its dim part [60, 90) is gray zone (below half maximum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ScarQuantificationLib.mrml_segments import segmentation_node_from_masks
from ScarSegmentationLib.mrml_scene import place_in_subject_hierarchy
from ScarSegmentationLib.mrml_volumes import volume_node_from_study
from ScarSegmentationLib.study import Study
from scipy.spatial.transform import Rotation

SHAPE = (6, 48, 48)  # (k, j, i); slice 0 has no myocardium
SPACING = (1.4, 1.3, 8.0)
ORIGIN = (-20.0, 35.0, 60.0)
DIRECTION = Rotation.from_euler("xyz", [25.0, -40.0, 65.0], degrees=True).as_matrix()
CENTRE = (23.5, 23.5)  # (j, i)
INNER, OUTER = 9.0, 15.0


@dataclass
class Phantom:
    volume: object
    segmentation: object
    masks: dict[str, np.ndarray]
    core: np.ndarray  # expected core scar
    gray: np.ndarray  # expected gray zone
    angle: np.ndarray  # degrees, (k, j, i)
    radius: np.ndarray
    study_item: int


def ring_masks() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    k, j, i = np.indices(SHAPE)
    radius = np.hypot(j - CENTRE[0], i - CENTRE[1])
    angle = np.degrees(np.arctan2(j - CENTRE[0], i - CENTRE[1])) % 360
    present = k > 0
    myo = (radius >= INNER) & (radius < OUTER) & present
    masks = {
        "Myocardium": myo,
        "Blood pool": (radius < INNER) & present,
        "Scar": myo & (angle < 90),
    }
    return masks, angle, radius


def build(scene, noise: float = 4.0, direction: np.ndarray = DIRECTION) -> Phantom:
    masks, angle, radius = ring_masks()
    core = masks["Scar"] & (angle < 60)
    gray = masks["Scar"] & ~core
    rng = np.random.default_rng(3)
    image = np.full(SHAPE, 100.0)
    image[masks["Blood pool"]] = 400.0
    image[masks["Myocardium"]] = 60.0
    image[core] = 500.0
    image[gray] = 220.0
    image += rng.normal(0.0, noise, SHAPE)
    study = Study(
        image=image.astype(np.float32),
        spacing=SPACING,
        origin=ORIGIN,
        direction=direction,
        name="Phantom LGE",
    )
    volume = volume_node_from_study(scene, study)
    segmentation = segmentation_node_from_masks(scene, masks, volume, "Phantom")
    segmentation.GetSegmentation().AddEmptySegment("User notes", "User notes")
    _, study_item = place_in_subject_hierarchy(scene, "Patient X", "LGE study", [volume])
    return Phantom(volume, segmentation, masks, core, gray, angle, radius, study_item)


def node_ids(scene, class_name: str) -> list[str]:
    nodes = scene.GetNodesByClass(class_name)
    return sorted(nodes.GetItemAsObject(n).GetID() for n in range(nodes.GetNumberOfItems()))


def column(node, name: str) -> list:
    array = node.GetTable().GetColumnByName(name)
    assert array is not None, f"{node.GetName()} has no column {name!r}"
    return [array.GetValue(r) for r in range(array.GetNumberOfValues())]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * (a & b).sum() / max(1, a.sum() + b.sum())
