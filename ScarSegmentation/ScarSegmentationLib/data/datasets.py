"""Per-slice training samples for the ROI and myocardium networks.

Slices are standardised once (`prepare`); each draw resamples a randomly transformed view
(`make_sample`), so augmentation costs two map_coordinates calls per sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..crop import CROP_SIZE, CropBox
from ..intensity import standardize_slice
from .augment import (
    LOG_GAMMA,
    NOISE_MAX,
    NOISE_P,
    RAW_NOISE_MAX,
    random_intensity,
    random_spatial,
    rician_noise,
)
from .geometry import (
    LV_LABELS,
    antialias,
    context_indices,
    lv_box_from_mask,
    roi_box,
    sample_box,
)
from .loaders import PatientSlices
from .synthetic_scar import ScarIntensityBank, add_synthetic_scar

KINDS = ("roi", "myocardium", "scar_unet", "scar_nr")
# scar_unet: the U-Net scar head (baseline a of the scar issue): the myocardium net's classes
# with the myocardium split into healthy and enhanced (scar incl. no-reflow); scar_nr: the same
# with no-reflow (EMIDEC label 4) as a fifth class of its own
N_CLASSES = {"roi": 2, "myocardium": 3, "scar_unet": 4, "scar_nr": 5}
# scar_nr target for scar whose no-reflow part is not labelled (MyoPS): "scar or no-reflow",
# trained on the sum of the two probabilities (losses.partial_segmentation_loss)
SCAR_OR_NO_REFLOW = 5
CENTRES_WITHOUT_NO_REFLOW = ("myops",)
MIN_LV_PIXELS = 20  # slices with a smaller LV label are not used to train the myocardium net


@dataclass
class PreparedSlice:
    patient_id: str
    centre: str
    index: int  # position in the patient's stack
    std: np.ndarray  # standardised slice, float32 [0, 1]
    roi_src: np.ndarray  # std, anti-aliased for the ROI view
    label: np.ndarray  # uint8 EMIDEC labels
    lv_box: CropBox | None  # crop of the ground-truth LV (None: no LV on this slice)
    raw: np.ndarray | None = None  # the stored slice before standardisation (noise is added there)
    # the patient's whole stack in storage order (set by `prepare`): neighbours for `context`
    stack: list[PreparedSlice] | None = field(default=None, repr=False, compare=False)

    def neighbours(self, context: int) -> list[PreparedSlice]:
        """The slices `context` positions before to after this one (`context_indices`); the
        slice itself where there is no stack or a neighbour's grid differs."""
        if not self.stack:
            return [self] * (2 * context + 1)
        near = [self.stack[i] for i in context_indices(self.index, context, len(self.stack))]
        return [n if n.std.shape == self.std.shape else self for n in near]


def prepare(patients: dict[str, PatientSlices]) -> list[PreparedSlice]:
    out = []
    for pid, p in patients.items():
        stack: list[PreparedSlice] = []
        for i, (img, lab) in enumerate(zip(p.images, p.labels, strict=True)):
            std = standardize_slice(img)
            box = roi_box(std.shape)
            lv = np.isin(lab, LV_LABELS)
            stack.append(
                PreparedSlice(
                    pid,
                    p.centre,
                    i,
                    std,
                    antialias(std, box.side / CROP_SIZE),
                    lab,
                    lv_box_from_mask(lv) if lv.sum() >= MIN_LV_PIXELS else None,
                    np.asarray(img, dtype=np.float32),
                    stack,
                )
            )
        out.extend(stack)
    return out


def target(label: np.ndarray, kind: str, centre: str = "emidec") -> np.ndarray:
    """EMIDEC labels -> class indices: roi 0/1 (LV); myocardium 0 bg, 1 blood pool, 2 myo;
    scar_unet as myocardium with 3 = scar (labels 3 and 4: no-reflow lies inside the scar);
    scar_nr as scar_unet with 4 = no-reflow, and SCAR_OR_NO_REFLOW for the scar of a centre
    that does not label no-reflow."""
    if kind == "roi":
        return np.isin(label, LV_LABELS).astype(np.int64)
    out = np.zeros(label.shape, dtype=np.int64)
    out[label == 1] = 1
    out[label >= 2] = 2
    if kind == "scar_unet":
        out[label >= 3] = 3
    if kind == "scar_nr":
        out[label == 3] = 3
        out[label == 4] = 4
        if centre in CENTRES_WITHOUT_NO_REFLOW:
            out[label >= 3] = SCAR_OR_NO_REFLOW
    return out


def usable(s: PreparedSlice, kind: str) -> bool:
    return kind == "roi" or s.lv_box is not None


def make_sample(
    s: PreparedSlice,
    kind: str,
    rng: np.random.Generator | None,
    size: int = CROP_SIZE,
    synthetic_scar: float = 0.0,
    bank: ScarIntensityBank | None = None,
    log_gamma: float = LOG_GAMMA,
    noise: tuple[float, float] = (NOISE_P, NOISE_MAX),
    raw_noise: tuple[float, float] = (0.0, RAW_NOISE_MAX),
    context: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(image (size, size) float32, target (size, size) int64); augmented when rng is given.
    context N > 0 (not roi): the image is (2N + 1, size, size), the slices N positions before
    to N after this one in the stack (`PreparedSlice.neighbours`), cut by the same box and
    transformed alike; with rng their order is reversed on half of the draws (a study may be
    stored apex first or base first).
    scar_unet with rng: a slice without scar gets synthetic scar (`add_synthetic_scar`, intensities
    from `bank`) with probability `synthetic_scar`, before the augmentation so that it is
    augmented like real scar; at 0 no random number is drawn for it (sampling unchanged).
    raw_noise (P, MAX), not for roi: on a share P of the draws, Rician noise (sigma up to MAX of
    the 99th percentile) on the stored slice, standardised again afterwards, as a noisy scan
    reaches the pipeline (`noise` is added after standardisation); at P = 0 nothing is drawn."""
    if context and kind == "roi":
        raise ValueError("context slices are for the networks after stage 1, not roi")
    if kind == "roi":
        src, box, shift = s.roi_src, roi_box(s.std.shape), 0.05
    else:
        assert s.lv_box is not None
        src, box, shift = s.std, s.lv_box, 0.10
    stack = s.neighbours(context)
    if rng is not None and context and rng.random() < 0.5:
        stack.reverse()
    sources = [n.std for n in stack] if context else [src]
    if rng is not None and kind != "roi" and raw_noise[0] > 0 and s.raw is not None:
        if rng.random() < raw_noise[0]:
            sigma = rng.uniform(0.005, raw_noise[1])
            sources = [
                standardize_slice(rician_noise(n.raw, sigma, rng)) if n.raw is not None else n.std
                for n in stack
            ]
    if rng is None:
        img = np.stack([sample_box(x, box, size) for x in sources])
        lab = sample_box(s.label, box, size, order=0)
        return (img if context else img[0]), target(lab, kind, s.centre)
    label = s.label
    if (
        synthetic_scar > 0.0
        and kind == "scar_unet"
        and not context
        and not (label >= 3).any()
        and rng.random() < synthetic_scar
    ):
        sources[0], label = add_synthetic_scar(sources[0], label, rng, bank)
    sp = random_spatial(box, rng, size, shift=shift, scale=(0.8, 1.25))
    kw = {
        "rotation_deg": sp.rotation_deg,
        "flip": sp.flip,
        "displacement": sp.displacement,
        "aspect": sp.aspect,
    }
    img = np.stack([sample_box(x, sp.box, size, **kw) for x in sources])
    lab = sample_box(label, sp.box, size, order=0, **kw)
    img = random_intensity(img, rng, log_gamma, *noise)
    return (img if context else img[0]), target(lab, kind, s.centre)
