"""Export a training checkpoint to Resources/Models/<name>.pt (state dict + config, float32)
and record its SHA256 in checksums.sha256 (other files' lines are kept as they are).

    python -m ScarSegmentationLib.training.export runs/roi/best.pt lv_roi
    python -m ScarSegmentationLib.training.export runs/myocardium/best.pt myocardium
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .. import weights


def record_checksum(path: Path) -> str:
    """Append `<sha256>  <file>` to the folder's checksums.sha256, replacing only this file's
    previous line."""
    digest = weights.sha256(path)
    sums = path.parent / weights.CHECKSUMS
    lines = sums.read_text().splitlines() if sums.exists() else []
    lines = [ln for ln in lines if ln.split()[-1:] != [path.name]]
    sums.write_text("\n".join([*lines, f"{digest}  {path.name}"]) + "\n")
    return digest


def export(checkpoint: Path | str, name: str, directory: Path | None = None) -> Path:
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = weights.build_model(ck["config"])
    model.load_state_dict(ck["model"])
    extra = {k: v for k, v in ck["config"].items() if k not in model.config}
    extra.update(epoch=int(ck["epoch"]), val=ck.get("val"))
    out = weights.save_model(model, (directory or weights.models_dir()) / f"{name}.pt", extra)
    record_checksum(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("name", help="lv_roi or myocardium")
    args = ap.parse_args(argv)
    path = export(args.checkpoint, args.name)
    print(path, weights.sha256(path), f"{path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
