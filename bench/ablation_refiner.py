"""The wall refiner's held-out output scored against the pipeline (nested cross-validation).

    for k in 0 1 2 3 4; do .venv/bin/python -m ScarSegmentationLib.training.train_refiner \
        --probs runs/probs --out runs/refiner --fold $k --context 1; done   # (ScarSegmentation/)
    .venv/bin/python bench/ablation_refiner.py --probs runs/probs --out runs/refiner
    .venv/bin/python bench/ablation_refiner.py --models 'checkpoints/refiner/scar_refiner-fold{k}.pt' \
        --orientations 2 --out runs/tta2        # the fold refiners again, 2 test-time orientations
    .venv/bin/python bench/ablation_refiner.py --out runs/refiner_ctx2 --against runs/refiner

For held-out fold f the refiner (training/train_refiner.py) was trained on the other folds'
patients only, whose softmax came from fold models that never saw them either (out-of-fold
stacking); nothing is chosen on fold f. Decisions on the study grid, each against the
pipeline's labels (bench/dump_cv_probs.py):
- "argmax, unrefined" / "refined": the argmax class of the members' / the refiner's softmax
  inside the refiner's crop (pipeline labels outside it), the shipped presence rule on the scar.
- "refined wall, ...": the refiner decides the wall only; its scar from the pipeline's labels,
  from the members' argmax, or by the scar head's own rules on the members' softmax
  (P(scar | myocardium) >= 0.5, P(no-reflow | scar) >= 0.5), optionally after the per-slice
  clean-up of stage 2 (largest wall component, the pool it encloses). The last, cleaned one is
  what stages/scar_refine.py runs.
- "refined wall, head rules on blend w": the head's rules on (1 - w) the members' + w the
  refiner's softmax inside its boxes.
- "refined wall, head rules at P(scar|wall) >= t" (`--thresholds`): the scar threshold moved.
--presence-rows writes the shipped decision before its presence rule, scored under every rule
of bench_cv's PRESENCE_GRID, for bench/calibrate_presence.py.
Rows: scar Dice (patients with scar), myocardium and blood pool Dice, burden absolute error
(bias), normal hearts below 1 %, no-reflow Dice (patients with no-reflow); paired Wilcoxon.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(REPO / "bench"),
    str(REPO / "ScarSegmentation"),
    str(REPO / "ScarQuantification"),
]

from bench_cv import presence_columns, write_rows  # noqa: E402
from bench_pipeline import burden  # noqa: E402
from ScarQuantificationLib.metrics import dice  # noqa: E402
from ScarSegmentationLib.crop import CropBox, paste  # noqa: E402
from ScarSegmentationLib.pipeline import PipelineOptions  # noqa: E402
from ScarSegmentationLib.scar.presence import apply_presence  # noqa: E402
from ScarSegmentationLib.scar.wall_refiner import (  # noqa: E402
    N_CLASSES,
    refined_labels,
    refined_wall,
    training_crops,
)
from ScarSegmentationLib.stages.scar_presence import RULES  # noqa: E402
from ScarSegmentationLib.stages.scar_unet import (  # noqa: E402
    no_reflow_given_scar,
    scar_given_myocardium,
)

SCAR, NO_REFLOW = 3, 4


def decide(pred: np.ndarray, ks: list[int], boxes: list[CropBox], crops: np.ndarray) -> np.ndarray:
    """Study-grid labels: argmax of the crop's classes inside the crop, `pred` outside."""
    out = refined_labels(pred, ks, boxes, crops)
    scar = out >= SCAR
    kept = apply_presence(scar, out >= 2, RULES["unet"]).scar
    out[scar & ~kept] = 2
    return out


def with_scar(
    pred: np.ndarray,
    wall: np.ndarray,
    pool: np.ndarray,
    probs: np.ndarray,
    scar_from: str,
    presence: bool = True,
    threshold: float | None = None,
) -> np.ndarray:
    """Labels with the refiner's wall and pool; the scar inside the wall from the pipeline's
    labels (`"pipeline"`), the members' argmax of myocardium / scar / no-reflow (`"members"`),
    or the scar head's rules on the members' softmax (`"rules"`); then the presence rule."""
    out = np.where(wall, 2, np.where(pool, 1, 0)).astype(pred.dtype)
    if scar_from == "pipeline":
        out[wall & (pred >= SCAR)] = pred[wall & (pred >= SCAR)]
    elif scar_from == "members":
        out[wall] = 2 + probs[2:].argmax(0)[wall]
    else:  # the head's own rules (stages/scar_unet.py) at the pipeline's threshold
        by_slice = np.moveaxis(probs, 0, 1)  # (K, C, H, W)
        t = PipelineOptions.scar_threshold if threshold is None else threshold
        scar = wall & (scar_given_myocardium(by_slice) >= t)
        out[scar] = SCAR
        out[scar & (no_reflow_given_scar(by_slice) >= 0.5)] = NO_REFLOW
    if not presence:
        return out
    scar = out >= SCAR
    kept = apply_presence(scar, out >= 2, RULES["unet"]).scar
    out[scar & ~kept] = 2
    return out


def study_probs(shape: tuple[int, ...], ks: list[int], boxes: list[CropBox], crops: np.ndarray):  # noqa: ANN201
    """The crops' classes pasted onto the study grid (zeros outside the boxes)."""
    full = np.zeros((N_CLASSES, *shape), np.float32)
    for k, box, c in zip(ks, boxes, crops, strict=True):
        full[:, k] = np.stack([paste(c[j], box, shape[1:]) for j in range(N_CLASSES)])
    return full


# weight of the refiner's softmax in the scar head's rules (0: the members' alone, as shipped)
BLEND_WEIGHTS = (0.25, 0.5, 0.75, 1.0)


def blend(members: np.ndarray, refined: np.ndarray, w: float) -> np.ndarray:
    """(1 - w) members' + w refiner's softmax inside the refiner's boxes, the members' outside."""
    inside = refined.sum(0, keepdims=True) > 0.5
    return np.where(inside, (1 - w) * members + w * refined, members)


def scores(labels: np.ndarray, lab: np.ndarray) -> tuple[float, ...]:
    ref_scar, ref_wall = lab >= SCAR, lab >= 2
    scar, wall = labels >= SCAR, labels >= 2
    ref_nr = lab == NO_REFLOW
    predicted = burden(scar, wall)
    error = predicted - burden(ref_scar, ref_wall)
    return (
        dice(scar, ref_scar) if ref_scar.any() else np.nan,
        dice(wall, ref_wall),
        abs(error),
        predicted,
        dice(labels == NO_REFLOW, ref_nr) if ref_nr.any() else np.nan,
        float(ref_scar.any()),
        error,
        dice(labels == 1, lab == 1),
    )


def report(args: argparse.Namespace) -> None:
    out = Path(args.out)
    refined: dict[str, np.ndarray] = {}
    for f in sorted(out.glob("refined_fold*.npz")):
        with np.load(f) as z:
            refined.update({k: z[k].astype(np.float32) for k in z.files})
    rows: dict[str, dict[str, tuple]] = {}
    grid_rows: list[dict] = []
    for f in sorted(Path(args.probs).glob("*.npz")):
        if f.stem not in refined:
            continue
        with np.load(f) as z:
            d = training_crops(z, crop_factor=args.crop_factor)
            pred, lab = z["pred"], z["lab"]
        raw = d["x"][:, :N_CLASSES]
        ks, boxes, ref = d["ks"], d["boxes"], refined[f.stem]
        probs = study_probs(pred.shape, ks, boxes, raw)
        wall, pool = refined_wall(pred, ks, boxes, ref)
        raw_wall = refined_labels(pred, ks, boxes, ref)
        refined_probs = study_probs(pred.shape, ks, boxes, ref)
        rows[f.stem] = {
            "pipeline": scores(pred, lab),
            "argmax, unrefined": scores(decide(pred, ks, boxes, raw), lab),
            "refined": scores(decide(pred, ks, boxes, ref), lab),
            "refined wall uncleaned, scar head rules": scores(
                with_scar(pred, raw_wall >= 2, raw_wall == 1, probs, "rules"), lab
            ),
            "refined wall, pipeline scar": scores(
                with_scar(pred, wall, pool, probs, "pipeline"), lab
            ),
            "refined wall, members' argmax": scores(
                with_scar(pred, wall, pool, probs, "members"), lab
            ),
            "refined wall, scar head rules": scores(
                with_scar(pred, wall, pool, probs, "rules"), lab
            ),
            **{
                f"refined wall, head rules on blend {w:.2f}": scores(
                    with_scar(pred, wall, pool, blend(probs, refined_probs, w), "rules"), lab
                )
                for w in BLEND_WEIGHTS
            },
            **{
                f"refined wall, head rules at P(scar|wall) >= {t:g}": scores(
                    with_scar(pred, wall, pool, probs, "rules", threshold=t), lab
                )
                for t in args.thresholds
            },
        }
        if args.presence_rows:
            grid_rows.append(presence_row(f.stem, d["fold"], pred, wall, pool, probs, lab))
    (out / "rows.json").write_text(json.dumps(rows))
    if args.presence_rows:
        write_rows(grid_rows, Path(args.presence_rows))
    for centre in ("emidec", "myops"):
        names = [n for n in rows if n.startswith(centre)]
        if not names:
            continue
        print(f"\n{centre}: {len(names)} patients")
        print(
            f"  {'decision':40s} scar   wall   pool   burden err (bias)  normals<1%  no-reflow   "
            "vs pipeline"
        )
        base = np.array([rows[n]["pipeline"] for n in names], float)
        for variant in rows[names[0]]:
            v = np.array([rows[n][variant] for n in names], float)
            pos, neg = v[:, 5] > 0, v[:, 5] == 0
            tests = []
            for col, label in ((0, "scar"), (1, "wall"), (2, "burden")):
                m = ~np.isnan(v[:, col])
                diff = v[m, col] - base[m, col]
                p = wilcoxon(diff).pvalue if np.any(diff != 0) else 1.0
                tests.append(f"{label} {np.mean(diff):+.3f} (p {p:.3f})")
            normals = f"{np.mean(v[neg, 3] < 1):.2f}" if neg.any() else "-"
            nr = f"{np.nanmean(v[:, 4]):.3f}" if (~np.isnan(v[:, 4])).any() else "-"
            print(
                f"  {variant:40s} {np.nanmean(v[pos, 0]):.3f}  {v[:, 1].mean():.3f}  {v[:, 7].mean():.3f}  "
                f"{v[:, 2].mean():.2f} ({v[:, 6].mean():+.2f})      {normals:10s}  {nr:9s}   "
                + ", ".join(tests)
            )


def presence_row(
    stem: str,
    fold: int,
    pred: np.ndarray,
    wall: np.ndarray,
    pool: np.ndarray,
    probs: np.ndarray,
    lab: np.ndarray,
) -> dict:
    """The shipped decision before the presence rule, scored under every rule of bench_cv's
    PRESENCE_GRID (the columns bench/calibrate_presence.py reads)."""
    labels = with_scar(pred, wall, pool, probs, "rules", presence=False)
    prob = scar_given_myocardium(np.moveaxis(probs, 0, 1))
    centre = "MyoPS" if stem.startswith("myops") else "EMIDEC PNG"
    return {"centre": centre, "patient": stem.split("_", 1)[1], "fold": fold,
            "ref_burden": burden(lab >= SCAR, lab >= 2),
            **presence_columns(labels >= SCAR, labels >= 2, lab, prob)}  # fmt: skip


SHIPPED = "refined wall, scar head rules"  # the decision stages/scar_refine.py runs


def compare_refiners(a: Path, b: Path) -> None:
    """Paired comparison of two refiners' rows.json (B = --out, A = --against) on the shipped
    decision, the patients both scored."""
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    names = sorted(set(ra) & set(rb))
    print(f"\n{SHIPPED}: {b.parent} (B) against {a.parent} (A)")
    for centre in ("emidec", "myops"):
        ns = [n for n in names if n.startswith(centre)]
        for col, label in (
            (1, "wall"),
            (7, "blood pool"),
            (0, "scar"),
            (2, "burden error"),
            (4, "no-reflow"),
        ):
            x = np.array([ra[n][SHIPPED][col] for n in ns], float)
            y = np.array([rb[n][SHIPPED][col] for n in ns], float)
            m = ~np.isnan(x) & ~np.isnan(y)
            if not m.any():
                continue
            d = y[m] - x[m]
            p = wilcoxon(d).pvalue if np.any(d != 0) else 1.0
            print(f"  {centre:6s} {label:12s} n={m.sum():3d}  A {x[m].mean():.3f}  B {y[m].mean():.3f}"
                  f"  B-A {d.mean():+.3f}  p {p:.3f}")  # fmt: skip


# --orientations N: the first N of these (wall_refiner.refined_softmax's (turns, mirrored))
ORIENTATION_SETS = {
    1: ((0, False),),
    2: ((0, False), (0, True)),
    4: ((0, False), (0, True), (2, False), (2, True)),
}


def predict_folds(args: argparse.Namespace) -> None:
    """Each fold refiner of --models on its held-out patients with --orientations test-time
    orientations, written to --out as train_refiner writes them (refined_fold{k}.npz)."""
    import torch
    from ScarSegmentationLib.scar.wall_refiner import ORIENTATIONS, crop_factor_of, refined_softmax
    from ScarSegmentationLib.training.checkpoints import build_model
    from ScarSegmentationLib.training.train_refiner import load

    torch.set_num_threads(args.threads)
    orientations = ORIENTATION_SETS.get(args.orientations, ORIENTATIONS)
    data = load(Path(args.probs), args.context, args.crop_factor)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for k in range(5):
        blob = torch.load(Path(args.models.format(k=k)), weights_only=True)
        if crop_factor_of(blob["config"]) != args.crop_factor:
            raise SystemExit(f"{args.models.format(k=k)}: trained with another --crop-factor")
        net = build_model(blob["config"])
        net.load_state_dict(blob["state_dict"])
        net.eval()

        def residual(a: np.ndarray, net=net) -> np.ndarray:  # noqa: ANN001
            with torch.no_grad():
                return net(torch.from_numpy(a)).numpy()

        preds = {n: refined_softmax(residual, d["x"], orientations).astype(np.float16)
                 for n, d in data.items() if d["fold"] == k and len(d["x"])}  # fmt: skip
        np.savez_compressed(out / f"refined_fold{k}.npz", **preds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probs", default="runs/probs", help="folder of dump_cv_probs.py's npz")
    ap.add_argument("--out", default="runs/refiner", help="folder of train_refiner's output")
    ap.add_argument("--models", help="predict first: fold refiner checkpoints, pattern with {k}")
    ap.add_argument("--orientations", type=int, default=8, choices=(1, 2, 4, 8))
    ap.add_argument("--context", type=int, default=1, help="the fold refiners' context")
    ap.add_argument("--crop-factor", type=float, default=2.0, help="the fold refiners' crop factor")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--presence-rows",
        help="write the shipped decision's PRESENCE_GRID rows "
        "(TSV for bench/calibrate_presence.py)",
    )
    ap.add_argument(
        "--thresholds",
        type=float,
        nargs="*",
        default=[],
        help="also decide the scar at these P(scar | wall) thresholds",
    )
    ap.add_argument("--against", help="another refiner's --out: paired comparison with this one")
    args = ap.parse_args()
    if args.models:
        predict_folds(args)
    report(args)
    if args.against:
        compare_refiners(Path(args.against) / "rows.json", Path(args.out) / "rows.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
