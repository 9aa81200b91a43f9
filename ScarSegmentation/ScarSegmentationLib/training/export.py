"""Export a training checkpoint to Resources/Models/<name>.pt (state dict + config, float32)
and record its SHA256 in checksums.sha256 (other files' lines are kept as they are).

    python -m ScarSegmentationLib.training.export runs/roi/best.pt lv_roi
    python -m ScarSegmentationLib.training.export runs/myocardium/best.pt myocardium
    python -m ScarSegmentationLib.training.export runs/scar_unet/best.pt scar_unet \
        [--class-weights 0.277,0.819,0.83,2.074]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .. import weights
from .checkpoints import build_model, save_model


def record_checksum(path: Path) -> str:
    """Append `<sha256>  <file>` to the folder's checksums.sha256, replacing only this file's
    previous line."""
    digest = weights.sha256(path)
    sums = path.parent / weights.CHECKSUMS
    lines = sums.read_text().splitlines() if sums.exists() else []
    lines = [ln for ln in lines if ln.split()[-1:] != [path.name]]
    sums.write_text("\n".join([*lines, f"{digest}  {path.name}"]) + "\n")
    return digest


def export(
    checkpoint: Path | str,
    name: str,
    directory: Path | None = None,
    class_weights: list[float] | None = None,
) -> Path:
    """`class_weights`: the loss's class weights, for checkpoints written before the trainer
    stored them (its log gives them); stored in the config, undone at inference.

    `checkpoint` is a trainer's checkpoint or an exported `.pt` (state dict + config, as
    shipped): fold folders can then be rebuilt from the shipped members when the runs are gone."""
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = build_model(ck["config"])
    model.load_state_dict(ck["model"] if "model" in ck else ck["state_dict"])
    extra = {k: v for k, v in ck["config"].items() if k not in model.config}
    # a shipped .pt carries epoch and val in its config (kept in `extra` already)
    extra.update(
        epoch=int(ck.get("epoch", extra.get("epoch", -1))), val=ck.get("val", extra.get("val"))
    )
    if class_weights is not None:
        if len(class_weights) != model.config["n_classes"]:
            raise ValueError(
                f"{len(class_weights)} class weights for {model.config['n_classes']} classes"
            )
        extra["class_weights"] = [float(w) for w in class_weights]
    out = save_model(model, (directory or weights.models_dir()) / f"{name}.pt", extra)
    record_checksum(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("name", help="lv_roi, myocardium or scar_unet")
    ap.add_argument(
        "--class-weights",
        default=None,
        help="comma-separated loss class weights (from the training log), if not in the checkpoint",
    )
    args = ap.parse_args(argv)
    cw = [float(w) for w in args.class_weights.split(",")] if args.class_weights else None
    path = export(args.checkpoint, args.name, class_weights=cw)
    print(path, weights.sha256(path), f"{path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
