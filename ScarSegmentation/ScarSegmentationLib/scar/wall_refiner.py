"""The wall refiner's input, and its output back on the study grid as a wall (numpy only).

The refiner (stages/scar_refine.py, training/train_refiner.py) corrects the scar net's softmax
in an LV-centred crop: per slice, the net's mean softmax (5 classes), the pipeline's labels
one-hot, the standardised image, and the softmax and image of `context` neighbouring slices on
each side, cut by the slice's own box. The same functions build its training data from
bench/dump_cv_probs.py's files and its input at run time, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy import ndimage
from scipy.special import softmax

from ..crop import CropBox, box_for, extract, paste

SIZE = 96
N_CLASSES = 5  # background, blood pool, myocardium, scar, no-reflow
IN_CHANNELS = 2 * N_CLASSES + 1  # softmax, pipeline labels one-hot, image
NEIGHBOUR_CHANNELS = N_CLASSES + 1  # softmax and image of a neighbouring slice
MIN_PROB = 1e-4  # floor of the softmax before its log: the refiner corrects log-probabilities
# box side / equivalent diameter of the study's largest heart section, unless the refiner's
# config names another (`refiner_crop_factor`): a tighter box gives the wall more crop pixels
CROP_FACTOR = 2.0


def crop_factor_of(config: Mapping[str, object]) -> float:
    return float(config.get("refiner_crop_factor", CROP_FACTOR))  # type: ignore[arg-type]


def in_channels(context: int) -> int:
    return IN_CHANNELS + 2 * context * NEIGHBOUR_CHANNELS


def context_of(n_channels: int) -> int:
    """Neighbouring slices each side from a refiner's input channel count."""
    extra = n_channels - IN_CHANNELS
    if extra < 0 or extra % (2 * NEIGHBOUR_CHANNELS):
        raise ValueError(f"{n_channels} input channels is not a refiner's input")
    return extra // (2 * NEIGHBOUR_CHANNELS)


def image_channels(n_channels: int) -> list[int]:
    """Indices of the image channels (the slice's, then each neighbour's)."""
    return [IN_CHANNELS - 1] + [
        IN_CHANNELS + (j + 1) * NEIGHBOUR_CHANNELS - 1 for j in range(2 * context_of(n_channels))
    ]


def boxes_for(probs: np.ndarray, crop_factor: float = CROP_FACTOR) -> dict[int, CropBox]:
    """Per slice with heart (P(background) < 0.5): a box centred on it, its side `crop_factor`
    times the equivalent diameter of the study's largest heart section (one scale for the
    study). probs: (C, K, H, W)."""
    heart = probs[0].astype(np.float32) < 0.5
    areas = heart.reshape(len(heart), -1).sum(1)
    if areas.max() == 0:
        return {}
    side = box_for((0.0, 0.0), float(areas.max()), crop_factor).side
    out = {}
    for k in np.flatnonzero(areas > 0):
        cy, cx = ndimage.center_of_mass(heart[k])
        out[int(k)] = CropBox(float(cy), float(cx), side)
    return out


def _softmax_crop(probs: np.ndarray, k: int, box: CropBox) -> np.ndarray:
    p = np.stack([extract(probs[c, k], box, SIZE) for c in range(N_CLASSES)])
    p[0] += np.clip(1.0 - p.sum(0), 0, None)  # outside the slice: background
    return p


def slice_input(
    probs: np.ndarray,
    labels: np.ndarray,
    std: np.ndarray,
    k: int,
    box: CropBox,
    context: int,
    apex_first: bool = True,
) -> np.ndarray:
    """(in_channels(context), SIZE, SIZE) float32 for slice k; labels 0-4 (EMIDEC). The
    neighbours go apex side first whatever the stored order (`apex_first`: index 0 is the apex
    end), so a study stored the other way round gives the refiner the same input."""
    onehot = np.stack([extract((labels[k] == c).astype(np.float32), box, SIZE, 0)
                       for c in range(N_CLASSES)])  # fmt: skip
    onehot[0] += 1.0 - onehot.sum(0)
    parts = [_softmax_crop(probs, k, box), onehot, extract(std[k], box, SIZE)[None]]
    step = 1 if apex_first else -1
    for dk in [d for d in range(-context, context + 1) if d]:
        kk = k + dk * step  # the neighbour in slice k's box; zeros beyond the stack
        if 0 <= kk < len(std):
            parts += [_softmax_crop(probs, kk, box), extract(std[kk], box, SIZE)[None]]
        else:
            parts.append(np.zeros((NEIGHBOUR_CHANNELS, SIZE, SIZE), np.float32))
    return np.concatenate(parts).astype(np.float32)


def refiner_inputs(
    probs: np.ndarray,
    labels: np.ndarray,
    std: np.ndarray,
    context: int,
    apex_first: bool = True,
    crop_factor: float = CROP_FACTOR,
) -> tuple[np.ndarray, list[int], list[CropBox]]:
    """Every heart slice's input (N, C, SIZE, SIZE), its slice indices and boxes."""
    probs = probs.astype(np.float32)
    std = std.astype(np.float32)
    boxes = boxes_for(probs, crop_factor)
    x = [slice_input(probs, labels, std, k, box, context, apex_first) for k, box in boxes.items()]
    shape = (0, in_channels(context), SIZE, SIZE)
    return (
        (np.array(x, np.float32) if x else np.zeros(shape, np.float32)),
        list(boxes),
        list(boxes.values()),
    )


def training_crops(
    z: Mapping[str, np.ndarray], context: int = 0, crop_factor: float = CROP_FACTOR
) -> dict:
    """One patient of bench/dump_cv_probs.py (`probs`, `pred`, `std`, reference `lab`, `fold`,
    `apex_first` where recorded, else the stored order): the refiner's inputs `x` and the
    reference labels `y` cut by the same boxes."""
    apex_first = bool(z["apex_first"]) if "apex_first" in z else True
    x, ks, boxes = refiner_inputs(z["probs"], z["pred"], z["std"], context, apex_first, crop_factor)
    y = [extract(z["lab"][k], box, SIZE, order=0) for k, box in zip(ks, boxes, strict=True)]
    return {"x": x, "y": np.array(y, np.int64).reshape(-1, SIZE, SIZE), "ks": ks,
            "boxes": boxes, "fold": int(z["fold"])}  # fmt: skip


def refined_labels(
    labels: np.ndarray, ks: list[int], boxes: list[CropBox], crops: np.ndarray
) -> np.ndarray:
    """Study-grid labels: the argmax of the refined classes inside each box, `labels` outside."""
    out = labels.copy()
    shape = labels.shape[1:]
    for k, box, c in zip(ks, boxes, crops, strict=True):
        inside = paste(np.ones((SIZE, SIZE), np.float32), box, shape, order=0) > 0.5
        full = np.stack([paste(c[j], box, shape) for j in range(N_CLASSES)])
        out[k][inside] = full.argmax(0)[inside].astype(out.dtype)
    return out


# (quarter turns, mirrored) of the test-time orientations; the refiner trained on all 8
ORIENTATIONS = tuple((r, flip) for r in range(4) for flip in (False, True))
# what the pipeline runs: the slice and its mirror (all 8 gave the same held-out decisions to
# the third decimal, at four times the cost; docs/CROSS_VALIDATION.md, "The wall refiner")
RUN_ORIENTATIONS = ((0, False), (0, True))


def refined_softmax(
    residual: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    orientations: tuple[tuple[int, bool], ...] = ORIENTATIONS,
) -> np.ndarray:
    """The refiner's softmax (N, 5, S, S): its output `residual(x)` added to the log of the input
    softmax, averaged over `orientations`."""
    acc = np.zeros((len(x), N_CLASSES, *x.shape[-2:]), np.float32)
    for r, flip in orientations:
        xa = np.rot90(x, r, axes=(-2, -1))
        xa = np.ascontiguousarray(xa[..., ::-1] if flip else xa, dtype=np.float32)
        logits = np.log(np.clip(xa[:, :N_CLASSES], MIN_PROB, None)) + residual(xa)
        p = softmax(logits, axis=1)
        acc += np.rot90(p[..., ::-1] if flip else p, -r, axes=(-2, -1))
    return acc / len(orientations)


def refined_wall(
    labels: np.ndarray, ks: list[int], boxes: list[CropBox], crops: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(myocardium, blood pool) on the study grid: the refined classes' argmax inside each box,
    `labels` elsewhere, each refined slice cleaned as stage 2 cleans its own (largest wall
    component, the pool it encloses)."""
    from ..stages.myocardium import clean_slice

    out = refined_labels(labels, ks, boxes, crops)
    wall, pool = out >= 2, out == 1
    for k in ks:
        if wall[k].any():
            wall[k], pool[k] = clean_slice(wall[k], pool[k])
    return wall, pool
