"""Scar segmenter with GROUND-TRUTH boxes on the TEST patients (baseline b of issue 4: the
upper bound of YOLO+SAM): zero-shot LiteMedSAM vs fine-tuned (KL) vs fine-tuned without KL.

    .venv/bin/python bench/bench_segmenter.py [--kl runs/segmenter/best.pt]
        [--nokl runs/segmenter_nokl/best.pt] [--threads 1] [--max-seconds 300]

Every test patient with scar (EMIDEC pathological PNG slices, MyoPS volumes): each slice with
scar is framed by its ground-truth LV box (scar.frame.gt_box), prompted with the ground-truth
scar boxes (scar.boxes.gt_boxes: one per merged component), encoded once; each variant decodes
the same embedding. The frame probability is pasted back onto the slice (to_slice), thresholded
at 0.5 and clipped to the REFERENCE myocardium (labels >= 2). Per patient (all slices pooled):
Dice, area similarity AS and perimeter similarity PS (ScarQuantificationLib.metrics); mean per
centre. Timing: encoder seconds per frame and decoder seconds per frame (all its boxes), one
pass, no test-time augmentation. --max-seconds stops encoding new patients after that long.
--kl defaults to Resources/Models/scar_segmenter.pt when that file exists.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "ScarSegmentation"), str(REPO / "ScarQuantification")]

import torch  # noqa: E402
from ScarQuantificationLib.metrics import area_similarity, dice, perimeter_similarity  # noqa: E402
from ScarSegmentationLib.data import load_all, load_split  # noqa: E402
from ScarSegmentationLib.intensity import standardize_slice  # noqa: E402
from ScarSegmentationLib.scar.boxes import gt_boxes  # noqa: E402
from ScarSegmentationLib.scar.frame import gt_box, label_frame, scar_frame, to_slice  # noqa: E402
from ScarSegmentationLib.scar.sam_augment import as_array  # noqa: E402
from ScarSegmentationLib.training import sam_model  # noqa: E402


def variants(args: argparse.Namespace) -> dict[str, dict | None]:
    """name -> fine-tuned state dict (None = the package's zero-shot decoder)."""
    out: dict[str, dict | None] = {"zero-shot": None}
    installed = REPO / "Resources" / "Models" / "scar_segmenter.pt"
    kl = args.kl or (str(installed) if installed.exists() else None)
    for name, path in (("fine-tuned", kl), ("fine-tuned no-KL", args.nokl)):
        if path and Path(path).exists():
            out[name] = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
            print(f"{name}: {path}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--split", default=None)
    ap.add_argument("--which", default="test", help="split part (test, val)")
    ap.add_argument("--kl", default=None, help="fine-tuned checkpoint or exported .pt")
    ap.add_argument("--nokl", default="runs/segmenter_nokl/best.pt")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=300.0)
    ap.add_argument("--out", default="runs/segmenter/bench.tsv")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    models = variants(args)
    net = sam_model.build_base()
    zero_shot = sam_model.fine_tuned_state(net)
    patients = load_all(args.data)
    ids = [p for p in load_split(args.split)[args.which] if patients[p].scar_burden() > 0]
    rows, enc_s, dec_s = [], [], {m: [] for m in models}
    t_start = time.perf_counter()
    for pid in ids:
        if time.perf_counter() - t_start > args.max_seconds:
            print(f"--max-seconds reached: {len(rows) // len(models)} of {len(ids)} patients")
            break
        p = patients[pid]
        ref = np.stack(p.labels) >= 3
        myo = np.stack(p.labels) >= 2
        preds = {m: np.zeros_like(ref) for m in models}
        for k in np.flatnonzero(ref.any(axis=(1, 2))):
            box = gt_box(p.labels[k])
            prompts = as_array(gt_boxes(label_frame(p.labels[k], box))) if box else []
            if box is None or not len(prompts):
                continue  # scar specks too small for a box: counted as missed
            frame = scar_frame(standardize_slice(p.images[k]), box)
            t0 = time.perf_counter()
            with torch.no_grad():
                emb = sam_model.encode(net, frame[None])
            enc_s.append(time.perf_counter() - t0)
            for m, state in models.items():
                sam_model.load_fine_tuned(net, state if state is not None else zero_shot)
                t0 = time.perf_counter()
                with torch.no_grad():
                    logits = sam_model.decode(net, emb, sam_model.box_tensor(prompts))
                prob = torch.sigmoid(logits).amax(0).numpy()
                dec_s[m].append(time.perf_counter() - t0)
                preds[m][k] = (to_slice(prob, box, ref.shape[1:]) >= 0.5) & myo[k]
        for m in models:
            rows.append((pid, p.centre, m, dice(preds[m], ref), area_similarity(preds[m], ref),
                         perimeter_similarity(preds[m], ref)))  # fmt: skip

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        f.write("patient\tcentre\tvariant\tdice\tarea_similarity\tperimeter_similarity\n")
        for r in rows:
            f.write("\t".join([r[0], r[1], r[2], *(f"{x:.4f}" for x in r[3:])]) + "\n")
    print(f"\n{args.which} patients with scar, ground-truth boxes, clipped to the reference "
          f"myocardium (per-patient mean +- sd; {out}):")  # fmt: skip
    print(f"{'centre':8s} {'variant':18s} {'n':>3s} {'Dice':>13s} {'AS':>13s} {'PS':>13s}")
    for centre in sorted({r[1] for r in rows}):
        for m in models:
            v = np.array([r[3:] for r in rows if r[1] == centre and r[2] == m])
            cells = " ".join(f"{v[:, j].mean():.3f}+-{v[:, j].std():.3f}" for j in range(3))
            print(f"{centre:8s} {m:18s} {len(v):3d} {cells}")
    print(f"\nencoder {np.mean(enc_s):.2f} s/frame (min {np.min(enc_s):.2f}), "
          f"{len(enc_s)} frames, {args.threads} thread(s)")  # fmt: skip
    for m, s in dec_s.items():
        print(f"decoder [{m}] {np.mean(s):.3f} s/frame (min {np.min(s):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
