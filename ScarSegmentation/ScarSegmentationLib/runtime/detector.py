"""The YOLO scar detector in ONNX Runtime: no PyTorch, no ultralytics.

The graph (`training.export_detector_onnx`) is the ultralytics YOLO11n with its raw detection
head: input `images` (N, 3, 256, 256) float32 RGB in [0, 1], output (N, 5, A): per anchor the
box centre x, y, width, height in input pixels and the scar score (sigmoid). What ultralytics'
predict does around the network is done here in numpy, step for step, so the boxes are the same:

- input: the frame rounded to uint8 (`scar.detector.to_uint8`, as ultralytics gets it from
  `to_rgb8`), / 255 in float32, grey repeated to 3 channels; frames are 256 x 256, the model's
  size, so ultralytics' letterbox is the identity;
- candidates: score > conf; xywh -> xyxy as `ultralytics.utils.ops.xywh2xyxy` (float32);
- NMS: greedy, in the order of a stable descending sort of the scores, a box suppressed when its
  IoU with a kept one is > iou (torchvision's CPU kernel, which ultralytics calls, in float32);
  at most `max_det` boxes;
- boxes clipped to the frame (ultralytics' scale_boxes / clip_boxes).

The threshold (`conf`, tuned on the val split) and `iou` are read from the model's metadata
config and can be changed on the instance (benchmarks sweep conf), which a graph with NMS built
in would not allow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..scar.boxes import Box
from ..scar.detector import CONF, NMS_IOU, to_uint8
from ..scar.frame import SCAR_SIZE
from . import session as ort_session

MAX_DET = 300  # ultralytics' default max_det


def decode(
    raw: np.ndarray,
    conf: float,
    iou: float,
    size: int = SCAR_SIZE,
    max_det: int = MAX_DET,
) -> tuple[np.ndarray, np.ndarray]:
    """One image's raw head output (5, A) -> kept (K, 4) xyxy float32 boxes and (K,) scores,
    highest score first."""
    raw = np.asarray(raw, dtype=np.float32)
    scores = raw[4]
    cand = np.flatnonzero(scores > np.float32(conf))
    if cand.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    xywh = raw[:4, cand].T
    half = xywh[:, 2:] / np.float32(2)
    xyxy = np.concatenate([xywh[:, :2] - half, xywh[:, :2] + half], axis=1)
    s = scores[cand]
    keep = nms(xyxy, s, iou)[:max_det]
    boxes = np.clip(xyxy[keep], np.float32(0), np.float32(size))
    return boxes, s[keep]


def nms(xyxy: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes greedy NMS keeps, highest score first (torchvision.ops.nms)."""
    x0, y0, x1, y1 = (np.ascontiguousarray(xyxy[:, i]) for i in range(4))
    areas = (x1 - x0) * (y1 - y0)
    order = np.argsort(-scores, kind="stable")
    suppressed = np.zeros(len(scores), bool)
    keep = []
    for n, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[n + 1 :]
        rest = rest[~suppressed[rest]]
        if rest.size == 0:
            continue
        w = np.maximum(np.float32(0), np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        h = np.maximum(np.float32(0), np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = w * h
        overlap = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest[overlap.astype(np.float64) > iou]] = True
    return np.asarray(keep, dtype=np.int64)


def network_input(frames: np.ndarray) -> np.ndarray:
    """(N, H, W) [0, 1] frames -> (N, 3, H, W) float32, as ultralytics' predict prepares them."""
    grey = to_uint8(frames).astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(np.repeat(grey[:, None], 3, axis=1))


class OnnxScarDetector:
    """Boxes with scores on batches of scar frames (frame pixel coordinates)."""

    def __init__(
        self,
        path: Path | str,
        conf: float | None = None,
        iou: float | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.session = ort_session.create(self.path, n_threads)
        self.config: dict[str, Any] = ort_session.config(self.session)
        self.input_name = self.session.get_inputs()[0].name
        self.size = int(self.config.get("imgsz", SCAR_SIZE))
        self.max_det = int(self.config.get("max_det", MAX_DET))
        # score threshold: given, else the one tuned on the val split and stored at export
        self.conf = float(conf if conf is not None else self.config.get("conf", CONF))
        self.iou = float(iou if iou is not None else self.config.get("iou", NMS_IOU))

    @classmethod
    def load(cls, path: Path | str, verify: bool = True, **kwargs: Any) -> OnnxScarDetector:
        """Load the .onnx file (SHA256-verified against the folder's checksums.sha256 when
        `verify`); ModelError naming the file when it is missing, corrupt or unusable."""
        from ..weights import check_file

        path = check_file(path, verify)
        try:
            det = cls(path, **kwargs)
            if det.size != SCAR_SIZE:
                raise ValueError(f"model input size {det.size}, the scar frame is {SCAR_SIZE}")
            if len(det.config.get("names", ["scar"])) != 1:  # decode reads one class score
                raise ValueError(f"one class expected, the model has {det.config['names']}")
        except Exception as e:  # noqa: BLE001 - any failure means an unusable file
            raise ModelError(f"scar detector file {path} could not be loaded: {e}") from e
        return det

    def raw(self, frames: np.ndarray) -> np.ndarray:
        """(N, 256, 256) frames -> the head's (N, 5, A) output (one session run)."""
        return self.session.run(
            None, {self.input_name: network_input(frames)}, ort_session.run_options()
        )[0]

    def predict(self, frames: np.ndarray, batch: int = 16) -> list[list[Box]]:
        """(N, 256, 256) float frames in [0, 1] -> per frame the boxes, highest score first."""
        frames = np.asarray(frames)
        if frames.ndim != 3 or frames.shape[1:] != (SCAR_SIZE, SCAR_SIZE):
            raise ValueError(f"expected (N, {SCAR_SIZE}, {SCAR_SIZE}) frames, got {frames.shape}")
        out: list[list[Box]] = []
        step = max(1, int(batch))
        for start in range(0, len(frames), step):
            for raw in self.raw(frames[start : start + step]):
                xyxy, scores = decode(raw, self.conf, self.iou, self.size, self.max_det)
                out.append(
                    [Box(*map(float, b), score=float(s)) for b, s in zip(xyxy, scores, strict=True)]
                )
        return out
