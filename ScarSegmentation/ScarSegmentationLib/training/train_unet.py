"""Train the stage-1 (LV ROI), stage-2 (myocardium) or scar-head residual U-Net, CPU only.

    python -m ScarSegmentationLib.training.train_unet {roi,myocardium,scar_unet,scar_nr}
        [--epochs N] [--resume] [--init Resources/Models/myocardium.pt]
        [--deadline 2026-11-23T02:05:00] [--synthetic-scar 0.3]
        [--fold K --recipe nnunet --compile] [--deep-supervision 3]

Trains on the train split of Resources/Models/split.json (EMIDEC + MyoPS; slices drawn so each
centre contributes half of every epoch), evaluates per-patient Dice on the val split after each
epoch, saves <out>/last.pt (model, optimizer, scheduler, epoch, RNG) and <out>/best.pt (best val
score), and logs to <out>/train.log. Resumes from last.pt with --resume. scar_unet
--synthetic-scar P: a train slice without scar gets LGE-like synthetic scar with probability P
(data.synthetic_scar; intensities from the train slices with scar).

--fold K (cross-validation, Resources/Models/folds.json): trains on the four other folds and
never looks at fold K (no validation, no checkpoint choice): train a fixed schedule (`--recipe
nnunet`: SGD, Nesterov momentum 0.99, polynomial learning-rate decay to 0 over --epochs, as in
nnU-Net; or `--recipe adam-poly`: Adam with the same polynomial decay, which converges in fewer
steps) and use <out>/final.pt, written when the last epoch ends. scar_nr learns no-reflow as a
class of its own (MyoPS scar counts as "scar or no-reflow", losses.partial_segmentation_loss).
--deep-supervision L also scores the L - 1 decoder stages below full resolution
(deep_supervision.py); the saved net is the plain ResUNet either way.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from ..calibration import undo_class_weights
from ..data import PatientSlices, load_all, load_split
from ..data.augment import LOG_GAMMA, NOISE_MAX, NOISE_P, RAW_NOISE_MAX
from ..data.datasets import (
    KINDS,
    N_CLASSES,
    SCAR_OR_NO_REFLOW,
    PreparedSlice,
    make_sample,
    prepare,
    usable,
)
from ..data.folds import train_val_for
from ..data.synthetic_scar import ScarIntensityBank
from .common import parse_deadline, setup_logging
from .deep_supervision import DeepSupervision, deep_supervision_loss
from .losses import (
    class_weights,
    mc_variance_loss,
    partial_segmentation_loss,
    segmentation_loss,
    wall_dice_loss,
)
from .unet import ResUNet

# myocardium net: twice the ROI net's filters; the scar head is the myocardium net plus a class
BASE_FILTERS = {"roi": 8, "myocardium": 16, "scar_unet": 16, "scar_nr": 16}
CLASS_NAMES = {
    "roi": ["background", "lv"],
    "myocardium": ["background", "blood_pool", "myocardium"],
    "scar_unet": ["background", "blood_pool", "myocardium", "scar"],
    "scar_nr": ["background", "blood_pool", "myocardium", "scar", "no_reflow"],
}
SCORE_CLASS = {"roi": "lv", "myocardium": "myocardium", "scar_unet": "scar", "scar_nr": "scar"}
RECIPES = ("adam-plateau", "adam-poly", "nnunet")
log = logging.getLogger("scarseg.train")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by both networks; the caller supplies `kind` (or `model`) = roi|myocardium
    (`scarseg train roi ...` sets `model`; this module's own main adds a positional `kind`)."""
    parser.add_argument(
        "--data", default=None, help="data dir (default: SCARSEG_DATA or ../shared/data)"
    )
    parser.add_argument("--out", default=None, help="run dir (default: runs/<kind>)")
    parser.add_argument("--split", default=None, help="split.json (default: Resources/Models)")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--samples-per-epoch", type=int, default=0, help="0 = number of train slices"
    )
    parser.add_argument(
        "--lr", type=float, default=None, help="default 1e-3 (adam-plateau), 1e-2 (nnunet)"
    )
    parser.add_argument(
        "--fold",
        type=int,
        default=None,
        help="cross-validation: train on the other folds of folds.json, no validation",
    )
    parser.add_argument("--folds", default=None, help="folds.json (default: Resources/Models)")
    parser.add_argument(
        "--recipe",
        choices=RECIPES,
        default=None,
        help="optimiser and schedule (default: adam-plateau, with --fold nnunet; adam-poly: "
        "Adam with nnunet's polynomial decay, needs no validation)",
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the training step (faster on CPU)"
    )
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="mixed precision: bfloat16 autocast and channels-last tensors (2-3x faster on CPUs "
        "with AMX / AVX512-BF16; weights, loss and evaluation stay float32)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    parser.add_argument(
        "--init", default=None, help="warm start from this checkpoint (ignored with --resume)"
    )
    parser.add_argument(
        "--deadline",
        default=None,
        help="UTC ISO time; stop cleanly when the next epoch would pass it",
    )
    parser.add_argument(
        "--mc-loss",
        type=float,
        default=0.0,
        metavar="W",
        help="weight of the MC-dropout uncertainty loss (0: off; the paper uses 3)",
    )
    parser.add_argument(
        "--mc-loss-samples", type=int, default=5, help="dropout samples for --mc-loss"
    )
    parser.add_argument(
        "--log-gamma",
        type=float,
        default=LOG_GAMMA,
        help="intensity augmentation: gamma drawn from exp(U(-G, G)) (default %(default)s)",
    )
    parser.add_argument(
        "--noise",
        type=float,
        nargs=2,
        default=(NOISE_P, NOISE_MAX),
        metavar=("P", "MAX"),
        help="intensity augmentation: Rayleigh noise on a share P of the draws, scale up to MAX",
    )
    parser.add_argument(
        "--raw-noise",
        type=float,
        nargs=2,
        default=(0.0, RAW_NOISE_MAX),
        metavar=("P", "MAX"),
        help="not roi: Rician noise on the stored slice before standardisation, on a share P of "
        "the draws, sigma up to MAX of its 99th percentile (default off)",
    )
    parser.add_argument(
        "--deep-supervision",
        type=int,
        default=1,
        metavar="L",
        help="loss on the L finest decoder resolutions (nnU-Net: weights halving per level; "
        "1 = full resolution only)",
    )
    parser.add_argument(
        "--wall-loss",
        type=float,
        default=0.0,
        metavar="W",
        help="not roi: add W x the Dice loss of the whole wall (myocardium + scar + no-reflow "
        "as one region), so enhanced wall lost to the blood pool costs more (default off)",
    )
    parser.add_argument(
        "--context",
        type=int,
        default=0,
        metavar="N",
        help="not roi: N neighbouring slices on each side as extra input channels (2.5D; "
        "default 0: the slice alone)",
    )
    parser.add_argument(
        "--synthetic-scar",
        type=float,
        default=0.0,
        metavar="P",
        help="scar_unet: probability that a train slice without scar gets synthetic scar",
    )


def _sampling_probs(slices: list[PreparedSlice]) -> np.ndarray:
    """Each centre gets the same total probability (MyoPS has far fewer slices)."""
    centres = np.array([s.centre for s in slices])
    p = np.zeros(len(slices))
    for c in np.unique(centres):
        p[centres == c] = 1.0 / np.count_nonzero(centres == c)
    return p / p.sum()


def _batch(  # noqa: ANN202
    slices: list[PreparedSlice],
    kind: str,
    rng: np.random.Generator | None,
    synthetic_scar: float = 0.0,
    bank: ScarIntensityBank | None = None,
    log_gamma: float = LOG_GAMMA,
    noise: tuple[float, float] = (NOISE_P, NOISE_MAX),
    raw_noise: tuple[float, float] = (0.0, RAW_NOISE_MAX),
    context: int = 0,
):
    pairs = [
        make_sample(
            s,
            kind,
            rng,
            synthetic_scar=synthetic_scar,
            bank=bank,
            log_gamma=log_gamma,
            noise=noise,
            raw_noise=raw_noise,
            context=context,
        )
        for s in slices
    ]
    x = np.stack([p[0] for p in pairs])
    x = torch.from_numpy(x if context else x[:, None])
    y = torch.from_numpy(np.stack([p[1] for p in pairs]))
    return x, y


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    slices: list[PreparedSlice],
    kind: str,
    class_weights: torch.Tensor | None = None,
    context: int = 0,
) -> dict:
    """Per-patient Dice (all the patient's slices pooled) per foreground class, averaged per
    centre, in the network's input frame (no augmentation; myocardium: ground-truth LV crop).
    With the loss's class weights, the decision is made as at inference: weights undone."""
    model.eval()
    n_cls = N_CLASSES[kind]
    stats: dict[str, np.ndarray] = {}
    centre_of: dict[str, str] = {}
    for i in range(0, len(slices), 32):
        chunk = slices[i : i + 32]
        x, y = _batch(chunk, kind, None, context=context)
        probs = torch.softmax(model(x), dim=1).numpy()
        cw = None if class_weights is None else class_weights.tolist()
        pred = torch.from_numpy(undo_class_weights(probs, cw, axis=1).argmax(1))
        for s, p, t in zip(chunk, pred, y, strict=True):
            st = stats.setdefault(s.patient_id, np.zeros((n_cls, 3)))
            centre_of[s.patient_id] = s.centre
            for c in range(1, n_cls):
                pc, tc = _class_masks(p, t, c, kind)
                st[c] += [int((pc & tc).sum()), int(pc.sum()), int(tc.sum())]
    out: dict[str, dict[str, float]] = {}
    for centre in sorted(set(centre_of.values())):
        dices = []
        for pid, st in stats.items():
            if centre_of[pid] == centre:
                d = 2 * st[1:, 0] / np.maximum(st[1:, 1] + st[1:, 2], 1)
                d[(st[1:, 1] + st[1:, 2]) == 0] = 1.0
                dices.append(d)
        mean = np.mean(dices, axis=0)
        out[centre] = {CLASS_NAMES[kind][c]: float(mean[c - 1]) for c in range(1, n_cls)}
    return out


def _class_masks(p: torch.Tensor, t: torch.Tensor, c: int, kind: str):  # noqa: ANN202
    """Predicted and reference masks of class c; scar_nr scores scar with no-reflow included
    (what the pipeline reports as scar) and no-reflow only where it is labelled."""
    if kind != "scar_nr" or c < 3:
        return p == c, t == c
    if c == 3:
        return p >= 3, t >= 3
    if (t == SCAR_OR_NO_REFLOW).any():  # no-reflow not labelled on this slice: not scored
        return torch.zeros_like(t, dtype=torch.bool), torch.zeros_like(t, dtype=torch.bool)
    return p == c, t == c


def score(val: dict, kind: str) -> float:
    """Model selection: the main class's Dice (LV, myocardium or scar) averaged over the centres
    (a patient with neither predicted nor true scar counts 1, any false scar on it 0)."""
    return float(np.mean([v[SCORE_CLASS[kind]] for v in val.values()]))


def _widened_input(own: torch.Tensor, value: torch.Tensor) -> bool:
    """A convolution over one input channel where this net has 2N + 1 (context slices)."""
    return (
        own.ndim == 4
        and value.ndim == 4
        and value.shape[1] == 1
        and own.shape[1] % 2 == 1
        and own.shape[1] > 1
        and own.shape[0] == value.shape[0]
        and own.shape[2:] == value.shape[2:]
    )


def warm_start(model: torch.nn.Module, path: str) -> None:
    """Initialise from another net's weights (e.g. the shipped myocardium net for the scar head).
    Where the head has more classes, the extra ones start as copies of the last class (scar
    starts as myocardium and is learnt apart from it)."""
    src = torch.load(path, map_location="cpu", weights_only=False)
    src = src.get("model", src.get("state_dict", src))
    own = model.state_dict()
    # the head is extended only when its input width matches (bias shapes alone cannot tell)
    head_fits = (
        "head.weight" in src and own["head.weight"].shape[1:] == src["head.weight"].shape[1:]
    )
    for name, value in src.items():
        if name not in own:
            continue
        if own[name].shape == value.shape:
            own[name] = value
        elif _widened_input(own[name], value):
            # a one-channel net warm-starts a net with context slices: the slice itself gets
            # the old weights, the neighbours start at zero (same output at the start)
            own[name] = torch.zeros_like(own[name])
            own[name][:, own[name].shape[1] // 2] = value[:, 0]
        elif name.startswith("head.") and head_fits:
            n = value.shape[0]
            own[name][:n] = value
            own[name][n:] = value[-1]
    model.load_state_dict(own)


def training_loss(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    weights: torch.Tensor,
    mc_weight: float = 0.0,
    mc_samples: int = 5,
    level_weights: list[float] | None = None,
    wall_weight: float = 0.0,
) -> torch.Tensor:
    """Segmentation loss; with mc_weight > 0 the batch runs `mc_samples` times in one pass (each
    copy gets its own dropout mask), the segmentation loss covers every copy and the
    MC-dropout uncertainty loss (softmax variance across the copies) is added with that weight.
    A model that returns a list (DeepSupervision) is scored at each resolution with
    `level_weights`. wall_weight > 0 adds that weight of the whole-wall Dice loss
    (losses.wall_dice_loss) at every resolution."""
    if mc_weight <= 0:
        # labels with "scar or no-reflow" (scar_nr), decided on the full-resolution map
        seg_loss = (
            partial_segmentation_loss if int(y.max()) >= weights.numel() else segmentation_loss
        )

        def loss(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            value = seg_loss(z, t, weights)
            return value + wall_weight * wall_dice_loss(z, t) if wall_weight > 0 else value

        out = model(x)
        if isinstance(out, list):
            return deep_supervision_loss(out, y, level_weights or [1.0], loss)
        return loss(out.float(), y)
    logits = model(x.repeat(mc_samples, 1, 1, 1))
    seg = segmentation_loss(logits, y.repeat(mc_samples, 1, 1), weights)
    if wall_weight > 0:
        seg = seg + wall_weight * wall_dice_loss(logits, y.repeat(mc_samples, 1, 1))
    return seg + mc_weight * mc_variance_loss(logits, mc_samples)


def _save(path: Path, **state: object) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _noise_option(
    args: argparse.Namespace, name: str, default: tuple[float, float]
) -> tuple[float, float]:
    """A (P, MAX) noise option, checked: P a probability, MAX at least the smallest scale."""
    p, top = (float(v) for v in getattr(args, name, default))
    if not (0.0 <= p <= 1.0 and top >= 0.005):
        flag = "--" + name.replace("_", "-")
        raise ValueError(f"{flag} {(p, top)}: P in [0, 1] and MAX >= 0.005 are expected")
    return p, top


def run(args: argparse.Namespace) -> int:
    kind = getattr(args, "kind", None) or args.model
    if kind not in KINDS:
        raise ValueError(f"unknown network {kind!r}: expected one of {KINDS}")
    synthetic = float(getattr(args, "synthetic_scar", 0.0) or 0.0)
    if not 0.0 <= synthetic <= 1.0:
        raise ValueError(f"--synthetic-scar {synthetic}: a probability in [0, 1] is expected")
    if synthetic and kind != "scar_unet":
        raise ValueError(f"--synthetic-scar is for scar_unet, not {kind}")
    mc_weight = float(getattr(args, "mc_loss", 0.0) or 0.0)
    mc_samples = int(getattr(args, "mc_loss_samples", 5))
    wall_weight = float(getattr(args, "wall_loss", 0.0) or 0.0)
    context = int(getattr(args, "context", 0) or 0)
    if context < 0 or (context and kind == "roi"):
        raise ValueError(f"--context {context}: N >= 0 neighbours, for the networks after stage 1")
    if context and synthetic:
        raise ValueError(
            "--synthetic-scar draws on one slice: it cannot be combined with --context"
        )
    if wall_weight < 0 or (wall_weight and kind == "roi"):
        raise ValueError(f"--wall-loss {wall_weight}: a weight >= 0, for the networks with a wall")
    log_gamma = float(getattr(args, "log_gamma", LOG_GAMMA))
    if log_gamma < 0:
        raise ValueError(f"--log-gamma {log_gamma}: a half-width >= 0 is expected")
    noise = _noise_option(args, "noise", (NOISE_P, NOISE_MAX))
    raw_noise = _noise_option(args, "raw_noise", (0.0, RAW_NOISE_MAX))
    if mc_weight < 0 or (mc_weight and mc_samples < 2):
        raise ValueError(f"--mc-loss {mc_weight} with {mc_samples} samples: need W >= 0, N >= 2")
    out = Path(args.out or f"runs/{kind}")
    setup_logging(log, out)
    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    deadline = parse_deadline(args.deadline)

    fold = getattr(args, "fold", None)
    recipe = getattr(args, "recipe", None) or ("nnunet" if fold is not None else "adam-plateau")
    lr = args.lr if args.lr is not None else (1e-2 if recipe == "nnunet" else 1e-3)
    if mc_weight and kind == "scar_nr":
        raise ValueError("--mc-loss is not implemented for scar_nr")
    ds_levels = int(getattr(args, "deep_supervision", 1) or 1)
    if mc_weight and ds_levels > 1:
        raise ValueError("--mc-loss and --deep-supervision cannot be combined")

    t0 = time.perf_counter()
    if fold is not None:
        train_ids, held_out = train_val_for(fold, getattr(args, "folds", None))
        split = {"train": train_ids, "val": []}
        log.info("fold %d: %d training patients; the %d of fold %d are not used",
                 fold, len(train_ids), len(held_out), fold)  # fmt: skip
    else:
        split = load_split(args.split)
    patients: dict[str, PatientSlices] = load_all(args.data)
    train = [s for s in prepare({p: patients[p] for p in split["train"]}) if usable(s, kind)]
    val = [s for s in prepare({p: patients[p] for p in split["val"]}) if usable(s, kind)]
    log.info(
        "%s: %d train slices (%d patients), %d val slices (%d patients); prepared in %.1f s",
        kind, len(train), len(split["train"]), len(val), len(split["val"]), time.perf_counter() - t0,
    )  # fmt: skip
    n_cls = N_CLASSES[kind]
    counts = np.zeros(n_cls + 1)
    for s in train:
        counts += np.bincount(make_sample(s, kind, None)[1].ravel(), minlength=n_cls + 1)[
            : n_cls + 1
        ]
    counts[n_cls - 2] += counts[n_cls]  # "scar or no-reflow" (scar_nr) counts as scar
    weights = class_weights(counts[:n_cls])  # real labels only (synthetic scar not counted)
    bank = None
    if synthetic:
        bank = ScarIntensityBank.from_slices((s.std, s.label) for s in train)
        log.info(
            "synthetic scar on %.0f %% of the draws of slices without scar; bank of %d slices "
            "(%d with no-reflow)", 100 * synthetic, len(bank), len(bank.no_reflow),
        )  # fmt: skip
    probs = _sampling_probs(train)
    per_epoch = args.samples_per_epoch or len(train)
    if getattr(args, "compile", False):  # a smaller last batch would recompile the graph
        per_epoch = max(args.batch_size, per_epoch // args.batch_size * args.batch_size)

    model = ResUNet(
        n_classes=N_CLASSES[kind], base_filters=BASE_FILTERS[kind], in_channels=1 + 2 * context
    )
    # trained: the net, or the net with its deep-supervision heads (only the net is saved as
    # the model; the heads go into last.pt for resuming)
    ds = DeepSupervision(model, ds_levels) if ds_levels > 1 else None
    trained: torch.nn.Module = ds if ds is not None else model
    level_weights = ds.level_weights() if ds is not None else None
    sched: torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau
    if recipe == "nnunet":
        opt = torch.optim.SGD(
            trained.parameters(), lr=lr, momentum=0.99, nesterov=True, weight_decay=3e-5
        )
        total = args.epochs
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: max(0.0, 1.0 - e / total) ** 0.9)
    elif recipe == "adam-poly":
        opt = torch.optim.Adam(trained.parameters(), lr=lr, weight_decay=1e-5)
        total = args.epochs
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: max(0.0, 1.0 - e / total) ** 0.9)
    else:
        if fold is not None:
            raise ValueError("--recipe adam-plateau needs validation patients: not with --fold")
        opt = torch.optim.Adam(trained.parameters(), lr=lr, weight_decay=1e-5)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=10)
    bf16 = bool(getattr(args, "bf16", False))
    if bf16:
        trained = trained.to(memory_format=torch.channels_last)
    step_model = torch.compile(trained) if getattr(args, "compile", False) else trained
    start, best = 0, -1.0
    last = out / "last.pt"
    if args.resume and last.exists():
        ck = torch.load(last, weights_only=False)
        model.load_state_dict(ck["model"])
        if ds is not None:
            if "deep_supervision_heads" not in ck:
                raise ValueError(f"{last} was trained without --deep-supervision")
            ds.heads.load_state_dict(ck["deep_supervision_heads"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        rng.bit_generator.state = ck["numpy_rng"]
        torch.set_rng_state(ck["torch_rng"])
        start, best = ck["epoch"] + 1, ck["best"]
        log.info("resumed from %s at epoch %d (best %.4f)", last, start, best)
    elif getattr(args, "init", None):
        if fold is not None:  # a fold model may only build on the same fold's (no leak)
            init_fold = torch.load(args.init, weights_only=False).get("config", {}).get("fold")
            if init_fold != fold:
                raise ValueError(
                    f"--init {args.init} was trained for fold {init_fold}, not fold {fold}: "
                    "it has seen this fold's held-out patients"
                )
        warm_start(model, args.init)
        # the resolved file and its digest: a link into Resources/Models changes meaning when
        # another round is installed there
        init = Path(args.init).resolve()
        digest = hashlib.sha256(init.read_bytes()).hexdigest()
        log.info("warm start from %s (%s, sha256 %s)", args.init, init, digest)
    log.info(
        "class weights %s; %d samples/epoch, batch %d, recipe %s, lr %g, MC uncertainty loss %g "
        "x %d, gamma exp(+-%g), noise p %g up to %g, raw Rician noise p %g up to %g, bf16 %s, "
        "deep supervision %s, wall loss %g, context %d",
        weights.numpy().round(3).tolist(), per_epoch, args.batch_size, recipe, lr, mc_weight,
        mc_samples, log_gamma, *noise, *raw_noise, bf16, level_weights, wall_weight, context,
    )  # fmt: skip

    epoch_seconds = 0.0
    for epoch in range(start, args.epochs):
        if deadline and datetime.now(UTC).timestamp() + epoch_seconds > deadline.timestamp():
            log.info("deadline %s reached before epoch %d: stopping", deadline.isoformat(), epoch)
            break
        te = time.perf_counter()
        trained.train()
        order = rng.choice(len(train), size=per_epoch, p=probs)
        losses = []
        for b in range(0, per_epoch, args.batch_size):
            batch = [train[i] for i in order[b : b + args.batch_size]]
            x, y = _batch(batch, kind, rng, synthetic, bank, log_gamma, noise, raw_noise, context)
            if len(x) < 2:  # batch norm needs more than one sample
                continue
            if bf16:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = training_loss(
                    step_model, x, y, weights, mc_weight, mc_samples, level_weights, wall_weight
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        if val:
            v = evaluate(model, val, kind, weights, context)
            sc = score(v, kind)
        else:  # cross-validation fold: nothing to choose on
            v, sc = {}, float("nan")
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(sc)
        else:
            sched.step()
        is_best = bool(val) and sc > best
        best = max(best, sc) if val else best
        config = {
            **model.config,
            "kind": kind,
            "class_names": CLASS_NAMES[kind],
            "class_weights": weights.tolist(),  # undone at inference (calibration.py)
            "recipe": recipe,
            "fold": fold,
            "bf16": bf16,
            "deep_supervision": ds_levels,
            "wall_loss": wall_weight,
            "context": context,
            "raw_noise": list(raw_noise),
        }
        state = {
            "model": model.state_dict(),
            "config": config,
            "epoch": epoch,
            "val": v,
            "score": sc,
        }
        if is_best:
            _save(out / "best.pt", **state)
        _save(
            last,
            **state,
            optimizer=opt.state_dict(),
            scheduler=sched.state_dict(),
            numpy_rng=rng.bit_generator.state,
            torch_rng=torch.get_rng_state(),
            best=best,
            **({"deep_supervision_heads": ds.heads.state_dict()} if ds is not None else {}),
        )
        if epoch == args.epochs - 1:
            _save(out / "final.pt", **state)
        epoch_seconds = time.perf_counter() - te
        log.info(
            "epoch %d loss %.4f val %s score %.4f%s lr %.2g %.1f s",
            epoch, float(np.mean(losses)),
            {c: {k: round(x, 4) for k, x in d.items()} for c, d in v.items()},
            sc, " *best*" if is_best else "", opt.param_groups[0]["lr"], epoch_seconds,
        )  # fmt: skip
    if val:
        log.info("done; best val score %.4f", best)
    else:
        log.info("done; final weights %s", out / "final.pt")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS, help="which network to train")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
