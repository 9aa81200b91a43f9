"""Export every network the pipeline runs to ONNX, from the training checkpoints in
Resources/Models, and record the SHA256 of each file in checksums.sha256:

    python -m ScarSegmentationLib.training.export_onnx            # all of them
    python -m ScarSegmentationLib.training.export_onnx lv_roi anatomy

U-Nets (lv_roi, myocardium, scar_unet, scar_refiner): `<name>.pt` -> `<name>.onnx`, image plus one
channel-dropout mask per encoder level as inputs (runtime/unet.py), the config in the metadata.
Anatomy: `anatomy.pt` -> `anatomy_encoder.onnx`, `anatomy_decoder.onnx`, `anatomy.npz`.
Detector and SAM: training/export_detector_onnx.py and training/export_sam_onnx.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import weights
from ..anatomy import model as anatomy_model
from . import onnx_file
from .checkpoints import load_torch_model
from .export import record_checksum
from .unet import MaskedUNet, dropout_channels

UNETS = ("lv_roi", "myocardium", "scar_unet", "scar_refiner")


def _export(
    module: torch.nn.Module,
    args: tuple[torch.Tensor, ...],
    path: Path,
    inputs: list[str],
    outputs: list[str],
    config: dict[str, Any] | None = None,
) -> Path:
    """A dynamic batch axis on every input and output, the config in the metadata."""
    dynamic = {name: {0: "n"} for name in [*inputs, *outputs]}
    model = onnx_file.trace(module.eval(), args, inputs, outputs, dynamic)
    if config is not None:
        onnx_file.set_config(model, json.dumps(config, default=str))
    model.producer_name = "MyocardialScar export_onnx"
    onnx_file.save(model, path)
    record_checksum(path)
    return path


def export_unet(name: str, directory: Path | None = None) -> Path:
    folder = directory or weights.models_dir()
    net = load_torch_model(name, folder)
    channels = dropout_channels(net)
    size = int(net.config.get("input_size", 128))
    x = torch.zeros(2, int(net.config["in_channels"]), size, size)
    masks = tuple(torch.ones(2, c, 1, 1) for c in channels)
    config = {**net.config, "dropout_channels": channels, "source": f"{name}.pt"}
    names = ["x", *(f"mask{d}" for d in range(len(channels)))]
    return _export(MaskedUNet(net), (x, *masks), folder / f"{name}.onnx", names, ["logits"], config)


class _Encoder(torch.nn.Module):
    def __init__(self, ae: torch.nn.Module) -> None:
        super().__init__()
        self.ae = ae

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        return self.ae.encode(masks)


class _Decoder(_Encoder):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.ae.decode(z)


def export_anatomy(directory: Path | None = None) -> list[Path]:
    from .anatomy_bundle import load_torch_anatomy_model

    folder = directory or weights.models_dir()
    bundle = load_torch_anatomy_model(folder / "anatomy.pt")
    ae = bundle.autoencoder
    size, latent = int(ae.config["size"]), int(ae.config["latent"])
    config = {**ae.config, "source": "anatomy.pt"}
    enc = _export(_Encoder(ae), (torch.zeros(2, 1, size, size),),
                  folder / "anatomy_encoder.onnx", ["masks"], ["z"], config)  # fmt: skip
    dec = _export(_Decoder(ae), (torch.zeros(2, latent),),
                  folder / "anatomy_decoder.onnx", ["z"], ["logits"], config)  # fmt: skip
    npz = folder / "anatomy.npz"
    with open(npz, "wb") as f:  # np.savez on a path would append ".npz" to a temp name
        np.savez(f, **anatomy_model.bundle_arrays(bundle))
    record_checksum(npz)
    return [enc, dec, npz]


def unet_files(name: str, directory: Path | None = None) -> list[str]:
    """The U-Net files behind a model name: its members when it is installed as an ensemble
    (runtime/ensemble.py), else the name itself."""
    manifest = weights.ensemble_manifest(name, directory)
    if manifest.is_file():
        from ..runtime.ensemble import read_manifest

        return [m.stem for m in read_manifest(manifest)]
    return [name]


def export_all(names: list[str], directory: Path | None = None) -> list[Path]:
    out: list[Path] = []
    for name in names:
        if name in UNETS:
            out += [export_unet(n, directory) for n in unet_files(name, directory)]
        elif name == "anatomy":
            out += export_anatomy(directory)
        elif name == "scar_detector":
            from .export_detector_onnx import export as export_detector

            out.append(export_detector(directory))
        elif name == "scar_segmenter":
            from .export_sam_onnx import export as export_sam

            out += export_sam(directory)
        else:
            raise SystemExit(f"unknown model {name!r}")
    return out


ALL = [*UNETS, "anatomy", "scar_detector", "scar_segmenter"]
# model card -> the runtime files it documents
CARD_FILES = {
    "lv_roi.md": ["lv_roi.onnx"],
    "myocardium.md": ["myocardium.onnx"],
    "scar_unet.md": ["scar_unet.onnx"],
    "scar_refiner.md": ["scar_refiner.onnx"],
    "anatomy.md": list(anatomy_model.FILES),
    "scar_detector.md": ["scar_detector.onnx"],
    "scar_segmenter.md": ["sam_encoder.onnx", "scar_segmenter.onnx"],
}
BEGIN, END = (
    "<!-- runtime files: begin (written by training.export_onnx) -->",
    "<!-- runtime files: end -->",
)


def update_cards(directory: Path | None = None) -> None:
    """Rewrite each card's block listing the files the pipeline loads, with bytes and SHA256."""
    folder = directory or weights.models_dir()
    for card, files in CARD_FILES.items():
        path = folder / card
        if not path.is_file():
            continue
        stem = card.removesuffix(".md")
        if stem in UNETS and weights.ensemble_manifest(stem, folder).is_file():
            manifest = weights.ensemble_manifest(stem, folder).name
            files = [manifest, *(f"{n}.onnx" for n in unet_files(stem, folder))]
        lines = [BEGIN, "## Runtime files (ONNX Runtime; exported from the checkpoint above)", ""]
        for name in files:
            f = folder / name
            if f.is_file():
                lines.append(f"- `{name}`: {f.stat().st_size} bytes, SHA256 `{weights.sha256(f)}`")
        lines += [
            "",
            "Re-export after retraining: `python -m ScarSegmentationLib.training.export_onnx`"
            " (tests compare each file with its torch original on real slices).",
            END,
        ]
        text = path.read_text()
        if BEGIN in text:
            head, rest = text.split(BEGIN, 1)
            text = head + "\n".join(lines) + rest.split(END, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
        path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=ALL, help=f"default: {' '.join(ALL)}")
    ap.add_argument("--models", type=Path, default=None, help="default: Resources/Models")
    args = ap.parse_args(argv)
    for path in export_all(args.names, args.models):
        print(f"{weights.sha256(path)}  {path.name}  {path.stat().st_size / 1e6:.2f} MB")
    update_cards(args.models)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
