"""Training samples for the scar segmenter: augmented scar frames and jittered box prompts.

Spatial augmentation (frame-box shift/scale, rotation, flip, anisotropic stretch, elastic) is
applied on the sampling grid that cuts the 256x256 frame out of the slice (one interpolation,
no empty corners), with the same grid for image and labels so they stay aligned; the scar boxes
are then taken from the transformed labels, so boxes and masks agree by construction.
Intensity: gamma, contrast/brightness, Rayleigh noise (`data.augment.random_intensity`) and
CLAHE. Box jitter moves each box edge independently, simulating the detector's error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage import exposure

from ..crop import CropBox
from ..data.augment import jitter_box, random_intensity, random_spatial
from ..data.geometry import sample_box
from .boxes import Box, gt_boxes
from .frame import SCAR_SIZE, gt_box, label_frame, scar_frame

P_CLAHE = 0.3
EDGE_JITTER = 0.15  # each box edge moves by up to this fraction of the box side ...
EDGE_JITTER_PX = 3.0  # ... plus up to this many frame pixels (small boxes get a real error)


@dataclass
class FrameSample:
    image: np.ndarray  # (256, 256) float32 frame
    labels: np.ndarray  # (256, 256) uint8 EMIDEC labels in the frame
    boxes: list[Box]  # ground-truth scar boxes (one per merged component)


def random_clahe(image: np.ndarray, rng: np.random.Generator, p: float = P_CLAHE) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation with a random clip limit, with prob p."""
    if rng.random() >= p:
        return image
    img = np.clip(image, 0.0, 1.0)
    if img.max() <= img.min():
        return image
    limit = float(rng.uniform(0.005, 0.03))
    return exposure.equalize_adapthist(img, clip_limit=limit).astype(np.float32)


def augment_intensity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return random_intensity(random_clahe(image, rng), rng)


def make_frame_sample(
    std2d: np.ndarray,
    label2d: np.ndarray,
    rng: np.random.Generator | None = None,
    strength: str = "full",
) -> FrameSample | None:
    """The frame around the ground-truth LV with its labels and scar boxes; None when the slice
    has no LV. strength: "none" (rng ignored), "shift" (frame-box jitter only, as a stage-2 crop
    error) or "full" (all spatial and intensity augmentations)."""
    box = gt_box(label2d)
    if box is None:
        return None
    if rng is None or strength == "none":
        image, labels = scar_frame(std2d, box), label_frame(label2d, box)
    elif strength == "shift":
        b = jitter_box(box, rng, shift=0.05, scale=(0.9, 1.1))
        image, labels = scar_frame(std2d, b), label_frame(label2d, b)
    else:
        image, labels = _spatial(std2d, label2d, box, rng)
        image = augment_intensity(image, rng)
    return FrameSample(image.astype(np.float32), labels.astype(np.uint8), gt_boxes(labels))


def _spatial(
    std2d: np.ndarray, label2d: np.ndarray, box: CropBox, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    sp = random_spatial(box, rng, SCAR_SIZE, shift=0.10, scale=(0.8, 1.25))
    kw = {
        "rotation_deg": sp.rotation_deg,
        "flip": sp.flip,
        "displacement": sp.displacement,
        "aspect": sp.aspect,
    }
    image = sample_box(std2d, sp.box, SCAR_SIZE, order=1, **kw)
    labels = sample_box(np.asarray(label2d, dtype=np.uint8), sp.box, SCAR_SIZE, order=0, **kw)
    return image, labels


def jitter_prompt(
    box: Box,
    rng: np.random.Generator,
    fraction: float = EDGE_JITTER,
    pixels: float = EDGE_JITTER_PX,
    size: int = SCAR_SIZE,
) -> Box:
    """Each edge moved by uniform(-1, 1) x (fraction x side + pixels), kept inside the frame
    and at least 2 pixels wide/high."""
    w, h = box.x1 - box.x0, box.y1 - box.y0
    d = rng.uniform(-1.0, 1.0, 4) * (fraction * np.array([w, h, w, h]) + pixels)
    x0, y0, x1, y1 = np.array([box.x0, box.y0, box.x1, box.y1]) + d
    x0, x1 = sorted((float(np.clip(x0, 0, size)), float(np.clip(x1, 0, size))))
    y0, y1 = sorted((float(np.clip(y0, 0, size)), float(np.clip(y1, 0, size))))
    x0, x1 = _at_least_2(x0, x1, size)
    y0, y1 = _at_least_2(y0, y1, size)
    return Box(x0, y0, x1, y1, box.score)


def _at_least_2(a: float, b: float, size: int) -> tuple[float, float]:
    if b - a >= 2.0:
        return a, b
    c = float(np.clip((a + b) / 2.0, 1.0, size - 1.0))
    return c - 1.0, c + 1.0


def box_target(labels: np.ndarray, box: Box) -> np.ndarray:
    """The training mask for one box prompt: the scar (labels 3, 4) inside the true box."""
    out = np.zeros(labels.shape, dtype=bool)
    rows, cols = box.pixel_slices(labels.shape)
    out[rows, cols] = labels[rows, cols] >= 3
    return out


def as_array(boxes: list[Box]) -> np.ndarray:
    """Boxes -> (N, 4) float32 x0, y0, x1, y1."""
    return np.array([[b.x0, b.y0, b.x1, b.y1] for b in boxes], dtype=np.float32).reshape(-1, 4)
