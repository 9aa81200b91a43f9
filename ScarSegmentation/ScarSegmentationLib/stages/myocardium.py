"""Stage 2: myocardium and blood pool in the LV crop, with Monte-Carlo dropout uncertainty.

All slices' crops go through the network in one batch (times the number of MC samples). The
mean softmax is kept in the crop frame for stage 3 and pasted back onto the study grid.

The network may be the joint myocardium + scar net (the U-Net scar head, whose classes split the
myocardium into healthy and enhanced): its classes from MYOCARDIUM on are folded into myocardium.
The raw passes are kept in `ctx.net_passes` so the scar head stage, running the same network on
the same crops, does not run it again.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.special import softmax

from ..calibration import undo_model_class_weights
from ..crop import CROP_SIZE, CropBox, extract, paste
from ..data.geometry import context_indices, lv_box_from_mask
from ..pipeline import NetPasses, PipelineContext, ProgressCallback
from ..runtime.unet import SegNet
from .standardize import ensure_standardized

BG, BLOOD_POOL, MYOCARDIUM = 0, 1, 2
MIN_REFINE_PIXELS = 20  # a smaller first-pass LV is not trusted to re-centre the crop


def largest_component(mask: np.ndarray) -> np.ndarray:
    lab, n = ndimage.label(mask)
    if n <= 1:
        return mask.astype(bool)
    sizes = ndimage.sum_labels(mask, lab, range(1, n + 1))
    return lab == 1 + int(np.argmax(sizes))


def clean_slice(myo: np.ndarray, bp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest myocardium component; blood pool = largest component of (predicted blood pool
    plus whatever the myocardium ring encloses), never overlapping the myocardium."""
    myo = largest_component(myo)
    enclosed = ndimage.binary_fill_holes(myo) & ~myo
    bp = largest_component((bp | enclosed) & ~myo)
    return myo, bp


def sample_dice(samples: np.ndarray, mean_mask: np.ndarray) -> float:
    """Mean Dice between each sample's mask (S, H, W) and the mean-prediction mask."""
    dices = []
    for m in samples:
        denom = m.sum() + mean_mask.sum()
        dices.append(1.0 if denom == 0 else 2.0 * (m & mean_mask).sum() / denom)
    return float(np.mean(dices))


def refine_boxes(
    boxes: dict[int, CropBox], first_pass: np.ndarray, ks: list[int], shape: tuple[int, int]
) -> dict[int, CropBox]:
    """Crops re-centred and re-sized on the LV (blood pool + myocardium) of a first pass: the
    ROI net's LV is coarser than stage 2's, and the myocardium net was trained on crops of the
    true LV (+-10 % centre, x0.8-1.25 side), so a second crop from its own LV is closer to that
    distribution. Slices whose first pass finds no LV keep their ROI crop."""
    out = dict(boxes)
    for n, k in enumerate(ks):
        lv = paste((first_pass[n, BLOOD_POOL] + first_pass[n, MYOCARDIUM]), boxes[k], shape) > 0.5
        lv = largest_component(lv)
        box = lv_box_from_mask(lv) if lv.sum() >= MIN_REFINE_PIXELS else None
        if box is not None:
            out[k] = box
    return out


# Crop flips cycled through by the MC passes: (N, H, W) axes.
FLIPS: tuple[tuple[int, ...], ...] = ((), (2,), (1,), (1, 2))  # np.flip(axis=()) is a no-op


def context_of(model: SegNet) -> int:
    """Neighbouring slices on each side a net takes as extra input channels (2.5D)."""
    return (int(model.config.get("in_channels", 1)) - 1) // 2


def net_crops(
    model: SegNet, std: np.ndarray, boxes: dict[int, CropBox], ks: list[int]
) -> np.ndarray:
    """The nets' input for the slices ks of a standardised study (K, H, W): (N, S, S) crops, or
    (N, 2c + 1, S, S) for a net with c context slices each side: the neighbours in storage
    order, clamped at the ends of the stack, all cut by slice k's box (as in training)."""
    c = context_of(model)
    if c == 0:
        return np.stack([extract(std[k], boxes[k], CROP_SIZE) for k in ks])
    return np.stack([
        np.stack([extract(std[i], boxes[k], CROP_SIZE) for i in context_indices(k, c, len(std))])
        for k in ks
    ])  # fmt: skip


def _channels_first(crops: np.ndarray) -> np.ndarray:
    """(N, S, S) or (N, C, S, S) -> (N, C, S, S) float32."""
    x = np.asarray(crops, dtype=np.float32)
    return x[:, None] if x.ndim == 3 else x


def _flip_axes(s: int) -> tuple[int, ...]:
    """Pass s's flip as axes of (N, C, S, S) (and of the (N, classes, S, S) softmax)."""
    return tuple(a + 1 for a in FLIPS[s % len(FLIPS)])


def predict_crops(
    model: SegNet,
    crops: np.ndarray,
    samples: int,
    flips: bool = True,
    rng: np.random.Generator | None = None,
    prior_power: float = 1.0,
) -> np.ndarray:
    """(N, S, S) crops (or (N, C_in, S, S) with context slices, `net_crops`) -> softmax
    (M, N, C, S, S), M = max(samples, 1) passes, with the class
    weighting of the net's training loss undone (its config's "class_weights", when stored; to
    the power `prior_power`, calibration.py).

    With `flips`, the MC-dropout passes also cycle through the four axis flips of the crop
    (mapped back before averaging): test-time augmentation at no extra cost. `rng` draws the
    dropout masks (None: a generator seeded with 0)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    if getattr(model, "members", None):  # each member undoes its own weights
        return _ensemble_passes(model, crops, samples, flips, rng, prior_power)
    passes = _softmax_passes(model, crops, samples, flips, rng)
    return undo_model_class_weights(model, passes, power=prior_power)


def _softmax_passes(
    model: SegNet, crops: np.ndarray, samples: int, flips: bool, rng: np.random.Generator
) -> np.ndarray:
    """One batched run over all passes: each item gets its own dropout mask."""
    x = _channels_first(crops)
    if samples <= 1:
        return softmax(model.logits(x), axis=1)[None]
    if not flips:
        p = softmax(model.logits(np.concatenate([x] * samples), rng), axis=1)
        return p.reshape(samples, len(crops), *p.shape[1:])
    views = [np.flip(x, axis=_flip_axes(s)) for s in range(samples)]
    p = softmax(model.logits(np.ascontiguousarray(np.concatenate(views)), rng), axis=1)
    p = p.reshape(samples, len(crops), *p.shape[1:])
    return np.stack([np.flip(p[s], axis=_flip_axes(s)) for s in range(samples)])


def _ensemble_passes(
    model: SegNet,
    crops: np.ndarray,
    samples: int,
    flips: bool,
    rng: np.random.Generator,
    prior_power: float = 1.0,
) -> np.ndarray:
    """An ensemble (runtime/ensemble.py): pass s runs member s mod n on flip s mod 4, so every
    member takes part (max(samples, n) passes; deterministic members when samples <= 1)."""
    n = len(model.members)  # type: ignore[attr-defined]
    crops4 = _channels_first(crops)
    out = []
    for s in range(max(samples, n)):
        axes = _flip_axes(s) if flips else ()
        x = np.ascontiguousarray(np.flip(crops4, axis=axes))
        p = model.member_probs(  # type: ignore[attr-defined]
            s, x, rng if samples > 1 else None, prior_power
        )
        out.append(np.flip(p, axis=axes))
    return np.stack(out)


def fold_to_myocardium(probs: np.ndarray) -> np.ndarray:
    """softmax (..., C, H, W), C >= 3 -> (..., 3, H, W): classes MYOCARDIUM.. summed into one."""
    if probs.shape[-3] == 3:
        return probs
    head = probs[..., :MYOCARDIUM, :, :]
    rest = probs[..., MYOCARDIUM:, :, :].sum(axis=-3, keepdims=True)
    return np.concatenate([head, rest], axis=-3)


class MyocardiumStage:
    name = "myocardium"

    # refine=True re-crops on a first pass's LV. Measured on the val patients (epoch-82
    # weights): EMIDEC myocardium Dice 0.812 -> 0.816, MyoPS 0.773 -> 0.744, so it is off.
    def __init__(self, model: SegNet, refine: bool = False, flips: bool = True) -> None:
        self.model = model
        self.refine = refine
        self.flips = flips

    def predict_crops(
        self,
        crops: np.ndarray,
        samples: int,
        rng: np.random.Generator | None = None,
        prior_power: float = 1.0,
    ) -> np.ndarray:
        """(N, S, S) crops -> (M, N, 3, S, S) softmax passes, scar folded into myocardium."""
        probs = predict_crops(self.model, crops, samples, self.flips, rng, prior_power)
        return fold_to_myocardium(probs)

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        std = ensure_standardized(ctx)
        shape = std.shape
        ks = sorted(ctx.crop_boxes)
        samples = int(ctx.options.mc_samples)
        mc = samples > 1
        rng = np.random.default_rng(ctx.options.seed)  # reproducible dropout masks
        power = float(ctx.options.prior_power)
        progress(0.05, f"segmenting the myocardium on {len(ks)} slices")
        if self.refine and ks:
            crops = net_crops(self.model, std, ctx.crop_boxes, ks)
            first = self.predict_crops(crops, 1, rng, power)[0]
            ctx.crop_boxes = refine_boxes(ctx.crop_boxes, first, ks, shape[1:])
            for k in ks:
                box = ctx.crop_boxes[k]
                ctx.info(k)["crop_center_yx"] = (box.center_y, box.center_x)
                ctx.info(k)["crop_side_px"] = box.side
        crops = net_crops(self.model, std, ctx.crop_boxes, ks)
        raw = predict_crops(self.model, crops, samples, self.flips, rng, power)
        ctx.net_passes[self.name] = NetPasses(
            self.model, list(ks), {k: ctx.crop_boxes[k] for k in ks}, raw
        )
        probs = fold_to_myocardium(raw)
        mean = probs.mean(0)
        progress(0.7, "mapping back to the study grid")

        p_myo = np.zeros(shape, dtype=np.float32)
        p_bp = np.zeros(shape, dtype=np.float32)
        var = np.zeros(shape, dtype=np.float32)
        myo_mask = np.zeros(shape, dtype=bool)
        bp_mask = np.zeros(shape, dtype=bool)
        for n, k in enumerate(ks):
            box = ctx.crop_boxes[k]
            ctx.crop_probs[k] = mean[n].astype(np.float32)
            p_myo[k] = paste(mean[n, MYOCARDIUM], box, shape[1:])
            p_bp[k] = paste(mean[n, BLOOD_POOL], box, shape[1:])
            # Background is 1 outside the crop (paste fills zeros there).
            label = np.argmax(np.stack([1.0 - p_myo[k] - p_bp[k], p_bp[k], p_myo[k]]), axis=0)
            myo_mask[k], bp_mask[k] = clean_slice(label == MYOCARDIUM, label == BLOOD_POOL)
            info = ctx.info(k)
            info["myocardium_px"] = int(myo_mask[k].sum())
            info["blood_pool_px"] = int(bp_mask[k].sum())
            if mc:
                var[k] = paste(probs[:, n, MYOCARDIUM].var(0), box, shape[1:])
                mean_label = mean[n].argmax(0) == MYOCARDIUM
                info["mc_dice"] = sample_dice(probs[:, n].argmax(1) == MYOCARDIUM, mean_label)
        ctx.masks["Myocardium"] = myo_mask
        ctx.masks["Blood pool"] = bp_mask
        ctx.maps["Myocardium probability"] = np.clip(p_myo, 0.0, 1.0)
        if mc:
            ctx.maps["Myocardium uncertainty"] = np.clip(var, 0.0, None)
        else:
            ctx.notes.append("myocardium uncertainty not computed (MC dropout samples <= 1)")
        progress(1.0, "myocardium done")
