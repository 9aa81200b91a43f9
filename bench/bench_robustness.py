"""The whole pipeline on the same studies shown differently: orientation, slice order, intensity.

    .venv/bin/python bench/bench_robustness.py [--split test] [--scar-method auto] [--threads 2]
        [--variants as_is,rot90,...] [--unet CKPT] [--keep-all-scar]
        [--out runs/bench_robustness.tsv]

Centres differ in how a short-axis stack is stored (rows and columns swapped or mirrored, the
heart rotated in the image, slices base to apex) and in its intensities (another value range,
contrast curve, more noise). Each study of the split runs through the shipped pipeline as it is
and under each variant below (labels moved with the image); the table gives, per centre, the mean
per-patient myocardium Dice, scar Dice on pathological patients, burden error median and false
scar on normal patients, and each variant's change against "as_is". A robust pipeline shows
changes within the Monte-Carlo-dropout noise (about 0.01 myocardium, 0.02-0.03 scar Dice).
- rot90, rot180, transpose, flip_lr: the image and labels rotated / mirrored in-plane;
- reversed: slice order reversed (k -> n - 1 - k);
- gamma0.6, gamma1.6 (any gamma<G>): intensities through a gamma curve over their own range;
- rescaled: intensities x 7.3 + 1000 (another scanner's value range);
- noise: Rician noise, sigma 3 % of the 99th intensity percentile (seeded).
Hausdorff and volumes in ml are left out: the in-plane variants swap the spacing axes, and the
EMIDEC PNG slices have no real spacing anyway.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(REPO / "bench"),
    str(REPO / "ScarSegmentation"),
    str(REPO / "ScarQuantification"),
]

from bench_myocardium import load_checkpoint, studies  # noqa: E402
from ScarQuantificationLib.metrics import dice  # noqa: E402
from ScarSegmentationLib.data.augment import rician_noise  # noqa: E402
from ScarSegmentationLib.errors import NoHeartFoundError  # noqa: E402
from ScarSegmentationLib.factory import MYOCARDIUM_NETS, build_pipeline  # noqa: E402
from ScarSegmentationLib.pipeline import PipelineOptions  # noqa: E402
from ScarSegmentationLib.study import Study  # noqa: E402

CENTRES = ("EMIDEC PNG", "EMIDEC NIfTI", "MyoPS")


def _in_plane(study: Study, lab: np.ndarray, fn, swap: bool) -> tuple[Study, np.ndarray]:  # noqa: ANN001
    si, sj, sk = study.spacing
    spacing = (sj, si, sk) if swap else (si, sj, sk)
    image = np.ascontiguousarray(fn(study.image))
    return replace(study, image=image, spacing=spacing), np.ascontiguousarray(fn(lab))


def _intensity(study: Study, fn) -> Study:  # noqa: ANN001
    return replace(study, image=fn(study.image.astype(np.float32)).astype(np.float32))


def _gamma(g: float):  # noqa: ANN202
    def f(x: np.ndarray) -> np.ndarray:
        lo, hi = float(x.min()), float(x.max())
        return lo + (hi - lo) * ((x - lo) / max(hi - lo, 1e-6)) ** g

    return f


def _rician(x: np.ndarray) -> np.ndarray:
    return rician_noise(x, 0.03, np.random.default_rng(0))


def variant(name: str, study: Study, lab: np.ndarray) -> tuple[Study, np.ndarray]:
    """The study and its labels under the named variant."""
    in_plane = {
        "rot90": (lambda a: np.rot90(a, 1, axes=(1, 2)), True),
        "rot180": (lambda a: np.rot90(a, 2, axes=(1, 2)), False),
        "transpose": (lambda a: np.swapaxes(a, 1, 2), True),
        "flip_lr": (lambda a: a[:, :, ::-1], False),
    }
    intensity = {"rescaled": lambda x: x * 7.3 + 1000.0, "noise": _rician}
    if name.startswith("gamma"):  # gamma<G>, any G > 0
        try:
            intensity[name] = _gamma(float(name[5:]))
        except ValueError:
            pass
    if name == "as_is":
        return study, lab
    if name in in_plane:
        return _in_plane(study, lab, *in_plane[name])
    if name == "reversed":
        order = study.apex_to_base
        flipped = None if order is None else (len(order) - 1 - np.asarray(order))
        return replace(study, image=study.image[::-1].copy(), apex_to_base=flipped), lab[::-1]
    if name in intensity:
        return _intensity(study, intensity[name]), lab
    raise ValueError(f"unknown variant {name!r}")


VARIANTS = "as_is,rot90,rot180,transpose,flip_lr,reversed,gamma0.6,gamma1.6,rescaled,noise".split(
    ","
)


def use_joint_net(pipeline, net) -> None:  # noqa: ANN001
    """A candidate joint net as stage 2 and as the scar head of every scar stage."""
    if MYOCARDIUM_NETS[0] != "scar_unet":
        raise ValueError("--unet: stage 2 is not the joint net in this release")
    for stage in pipeline.stages:
        if stage.name in ("myocardium", "scar_unet"):
            stage.model = net
        elif stage.name in ("scar_head_boxes", "scar_fuse"):
            stage.head.model = net


def measure(masks: dict, lab: np.ndarray) -> dict[str, float]:
    myo = masks.get("Myocardium", np.zeros(lab.shape, bool))
    scar = masks.get("Scar", np.zeros(lab.shape, bool))
    ref_myo, ref = lab >= 2, lab >= 3
    row = {
        "myo_dice": dice(myo, ref_myo),
        "pred_burden": 100.0 * scar.sum() / max(myo.sum(), 1),
        "ref_burden": 100.0 * ref.sum() / max(ref_myo.sum(), 1),
        "scar_px": float(scar.sum()),
    }
    row["scar_dice"] = dice(scar, ref) if ref.any() else np.nan
    return row


def summary(rows: list[dict], variants: list[str]) -> None:
    print(
        "| centre | variant | studies | myocardium Dice | change | scar Dice (P) | change "
        "| burden error median (pp, P) | scar burden on N (%) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for centre in CENTRES:
        base = {}
        for v in variants:
            sel = [r for r in rows if r["centre"] == centre and r["variant"] == v]
            if not sel:
                continue
            p = [r for r in sel if r["ref_burden"] > 0]
            n = [r for r in sel if r["ref_burden"] == 0]
            myo = float(np.mean([r["myo_dice"] for r in sel]))
            scar = float(np.mean([r["scar_dice"] for r in p])) if p else np.nan
            base.setdefault("myo", myo)
            base.setdefault("scar", scar)
            err = [abs(r["pred_burden"] - r["ref_burden"]) for r in p]
            fp = f"{np.mean([r['pred_burden'] for r in n]):.2f}" if n else "-"
            print(
                f"| {centre} | {v} | {len(sel)} | {myo:.3f} | {myo - base['myo']:+.3f} "
                f"| {scar:.3f} | {scar - base['scar']:+.3f} "
                f"| {np.median(err) if err else float('nan'):.2f} | {fp} |"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test")
    ap.add_argument("--scar-method", default=PipelineOptions.scar_method)
    ap.add_argument("--threads", type=int, default=PipelineOptions.threads)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", default=str(REPO / "runs" / "bench_robustness.tsv"))
    ap.add_argument("--unet", default=None, help="joint net checkpoint for stage 2 and the head")
    ap.add_argument("--keep-all-scar", action="store_true", help="no scar-presence rule")
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if variants[0] != "as_is":
        variants.insert(0, "as_is")  # the reference every change is measured against
    options = PipelineOptions(
        threads=args.threads, scar_method=args.scar_method, scar_presence=not args.keep_all_scar
    )
    pipeline = build_pipeline(options)
    if args.unet:
        use_joint_net(pipeline, load_checkpoint(args.unet, "scar_unet"))
    rows = []
    for centre, pid, study, lab in studies(args.split):
        for v in variants:
            s, lab_v = variant(v, study, lab)
            try:
                result = pipeline.run(s)
            except NoHeartFoundError as exc:
                print(f"{pid} {v}: {exc}", file=sys.stderr)
                result = None  # counted as nothing found: Dice 0
            masks = result.masks if result is not None else {}
            rows.append({"centre": centre, "patient": pid, "variant": v, **measure(masks, lab_v)})
        print(f"{pid} ({centre}) done", file=sys.stderr, flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    print(f"split {args.split}; scar method {args.scar_method}; rows: {args.out}\n")
    summary(rows, variants)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
