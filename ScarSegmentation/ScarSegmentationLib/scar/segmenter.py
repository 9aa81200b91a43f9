"""Scar segmentation in the scar frame with the fine-tuned LiteMedSAM and box prompts.

Each frame is encoded once (the costly part: about 0.5-1 s per frame on 2 cores); all its boxes
are decoded on that one embedding and their probabilities united (pixel-wise max). Uncertainty is
the variance across test-time passes: "box" re-decodes with slightly moved boxes (decoder only,
cheap: it measures how much the mask depends on the detector's exact box), "flip" also encodes
the left-right mirrored frame (twice the encoder time), "none" skips it.

The network is a backend with two numpy methods (`SamBackend`): ONNX Runtime at run time
(runtime.sam.OnnxSam: Resources/Models/sam_encoder.onnx + scar_segmenter.onnx, no PyTorch),
or a torch net for training and benchmarks of checkpoints (training.sam_model.TorchSam).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..runtime import sam as runtime_sam
from .boxes import Box
from .sam_augment import as_array, jitter_prompt

WEIGHTS_NAME = runtime_sam.DECODER_NAME
UNCERTAINTY = ("box", "flip", "none")
# Decoder passes with "box" uncertainty (the given boxes + jittered copies). Chosen on the val
# patients: 1 / 2 / 4 passes gave YOLO + SAM scar Dice 0.402 / 0.406 / 0.401 EMIDEC and 0.627 /
# 0.631 / 0.639 MyoPS (bench_scar.py --sam-passes); 2 keeps an uncertainty map and cuts the
# scar stages from 5.5 to 4.5 s per 10 slices on the test studies (2 threads).
BOX_PASSES = 2
BOX_TTA_FRACTION = 0.08  # edge moves for the "box" passes, fraction of the box side ...
BOX_TTA_PIXELS = 2.0  # ... plus pixels


class SamBackend(Protocol):
    """What the segmenter needs of LiteMedSAM (runtime.sam.OnnxSam, training.sam_model.TorchSam)."""

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(N, 256, 256) frames -> (N, 256, 64, 64) image embeddings."""
        ...

    def decode(self, embedding: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """One frame's embedding (1, 256, 64, 64) and its boxes (N, 4) -> logits (N, 256, 256)."""
        ...


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow warnings for large negative logits."""
    x = np.asarray(x, dtype=np.float32)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)


@dataclass
class FrameResult:
    probability: np.ndarray  # (256, 256) float32, mean over passes, union over boxes
    uncertainty: np.ndarray | None  # (256, 256) variance across passes (None: one pass)


class ScarSegmenter:
    def __init__(
        self,
        sam: SamBackend,
        threshold: float = 0.5,
        uncertainty: str = "box",
        passes: int = BOX_PASSES,
        seed: int = 0,
    ) -> None:
        if uncertainty not in UNCERTAINTY:
            raise ValueError(f"uncertainty must be one of {UNCERTAINTY}, got {uncertainty!r}")
        self.sam = sam
        self.threshold = threshold
        self.uncertainty = uncertainty
        self.passes = max(1, int(passes))
        self.seed = seed

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

    def _union(self, embedding: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return sigmoid(self.sam.decode(embedding, boxes)).max(0)

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
        if todo:
            imgs = [frames[n] for n in todo]
            if flip:
                imgs += [np.ascontiguousarray(frames[n][:, ::-1]) for n in todo]
            emb = self.sam.encode(np.stack(imgs))  # the backend batches as it runs fastest
        for j, n in enumerate(todo):
            b = np.asarray(boxes[n], dtype=np.float32).reshape(-1, 4)
            if flip:
                mirrored = b.copy()
                mirrored[:, [0, 2]] = frames[n].shape[1] - b[:, [2, 0]]
                passes = [
                    self._union(emb[j : j + 1], b),
                    self._union(emb[len(todo) + j : len(todo) + j + 1], mirrored)[:, ::-1],
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


def load_segmenter(
    directory: Path | None = None, verify: bool = True, **options: object
) -> ScarSegmenter:
    """The installed scar segmenter on ONNX Runtime (sam_encoder.onnx + scar_segmenter.onnx,
    checksums verified); options go to ScarSegmenter (uncertainty, passes, ...)."""
    return ScarSegmenter(runtime_sam.load(directory, verify), **options)  # type: ignore[arg-type]


def clear_cache() -> None:
    runtime_sam.clear_cache()
