"""The YOLO scar detector's shared definitions: thresholds, the input conversion, the interface.

One class, "scar", on 256x256 scar frames (`scar.frame`). What the pipeline runs is
`runtime.detector.OnnxScarDetector` (ONNX Runtime, exported by
`training.export_detector_onnx`); the ultralytics model it was exported from is loaded by
`training.yolo.ScarDetector` (training and benchmarks only). This module imports neither torch
nor ultralytics.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .boxes import Box

CONF = 0.25  # default score threshold for kept boxes
CONF_KEY = "scarseg_conf"  # checkpoint key of the threshold tuned on the val split
NMS_IOU = 0.5


class BoxDetector(Protocol):
    """What the scar detection stage needs of a detector (ONNX or ultralytics)."""

    conf: float
    iou: float

    def predict(self, frames: np.ndarray, batch: int = 16) -> list[list[Box]]:
        """(N, 256, 256) float frames in [0, 1] -> per frame the boxes, highest score first."""
        ...


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """[0, 1] float frames (any shape) -> uint8 0-255, rounded to nearest (as saved to PNG for
    training)."""
    return np.clip(np.rint(np.asarray(frames, np.float32) * 255.0), 0, 255).astype(np.uint8)


def to_rgb8(frame: np.ndarray) -> np.ndarray:
    """A [0, 1] float frame -> (H, W, 3) uint8 (grey repeated: YOLO wants 3 channels)."""
    g = to_uint8(frame)
    return np.repeat(g[:, :, None], 3, axis=2)
