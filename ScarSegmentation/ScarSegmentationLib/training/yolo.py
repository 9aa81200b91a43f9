"""ultralytics YOLO for the scar detector: training, export and benchmarks only.

The pipeline runs the exported ONNX graph (`runtime.detector.OnnxScarDetector`), without PyTorch
or ultralytics. This module keeps the ultralytics side: the offline setup, and `ScarDetector`,
the same interface as the ONNX detector on an ultralytics model (the reference the ONNX export
is checked against, and what trains / benchmarks a run's checkpoint).

ultralytics reaches for the network (fonts, settings, online checks) unless configured first:
`configure_offline()` sets YOLO_OFFLINE/YOLO_AUTOINSTALL and points YOLO_CONFIG_DIR at a folder
holding the two fonts it wants (copies of matplotlib's DejaVuSans). It must run before
ultralytics is imported, so every import of ultralytics in this package goes through
`ultralytics_yolo()`. Nothing here imports torch or ultralytics at module import time.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..scar.boxes import Box
from ..scar.detector import CONF, CONF_KEY, NMS_IOU, to_rgb8
from ..scar.frame import SCAR_SIZE

FONTS = ("Arial.ttf", "Arial.Unicode.ttf")


def _user() -> str:
    """The login name for a per-user folder name (any platform), "user" when unknown."""
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no USER/LOGNAME and no passwd entry (containers)
        name = ""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "user"


def configure_offline(config_dir: Path | str | None = None) -> Path:
    """Set the ultralytics environment for offline use; returns YOLO_CONFIG_DIR.

    An existing YOLO_CONFIG_DIR is kept unless `config_dir` is given; the default is a per-user
    folder in the temporary directory (Windows, macOS and Linux alike)."""
    if config_dir is None:
        config_dir = os.environ.get("YOLO_CONFIG_DIR") or (
            Path(tempfile.gettempdir()) / f"scarseg-yolo-{_user()}"
        )
    config_dir = Path(config_dir)
    fonts = config_dir / "Ultralytics"
    fonts.mkdir(parents=True, exist_ok=True)
    missing = [f for f in FONTS if not (fonts / f).is_file()]
    if missing:
        from matplotlib import font_manager

        dejavu = font_manager.findfont("DejaVu Sans", fallback_to_default=True)
        for name in missing:
            shutil.copyfile(dejavu, fonts / name)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    return config_dir


def ultralytics_yolo() -> Any:
    """The ultralytics YOLO class, imported only after `configure_offline`."""
    configure_offline()
    from ultralytics import YOLO

    return YOLO


@contextmanager
def keep_torch_threads() -> Iterator[None]:
    """ultralytics' device selection sets torch's thread count to (CPUs - 1): 1 on a 2-core
    machine, which then slowed every later torch and ONNX Runtime stage (SAM ran on one thread,
    the next study's stages 1-2 too). Restore the caller's count afterwards."""
    import torch

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class ScarDetector:
    """Boxes with scores on batches of scar frames (frame pixel coordinates), by ultralytics."""

    def __init__(self, model: Any, conf: float | None = None, iou: float = NMS_IOU) -> None:
        self.model = model  # an ultralytics YOLO
        # score threshold: given, else the one tuned on the val split and stored at export
        stored = (getattr(model, "ckpt", None) or {}).get(CONF_KEY)
        self.conf = float(conf if conf is not None else stored if stored is not None else CONF)
        self.iou = iou

    @classmethod
    def load(cls, path: Path | str, verify: bool = True, **kwargs: Any) -> ScarDetector:
        """Load weights (SHA256-verified against the folder's checksums.sha256 when `verify`)."""
        from ..errors import ModelError
        from ..weights import verify_checksum

        if verify:
            verify_checksum(path)
        try:
            model = ultralytics_yolo()(str(path), task="detect")
        except Exception as e:  # noqa: BLE001 - any failure means an unusable file
            raise ModelError(f"scar detector weights {path} could not be loaded: {e}") from e
        return cls(model, **kwargs)

    def predict(self, frames: np.ndarray, batch: int = 16) -> list[list[Box]]:
        """(N, 256, 256) float frames in [0, 1] -> per frame the boxes, highest score first."""
        frames = np.asarray(frames)
        if frames.ndim != 3 or frames.shape[1:] != (SCAR_SIZE, SCAR_SIZE):
            raise ValueError(f"expected (N, {SCAR_SIZE}, {SCAR_SIZE}) frames, got {frames.shape}")
        out: list[list[Box]] = []
        for start in range(0, len(frames), batch):
            images = [to_rgb8(f) for f in frames[start : start + batch]]
            with keep_torch_threads():
                results = self.model.predict(
                    images,
                    imgsz=SCAR_SIZE,
                    conf=self.conf,
                    iou=self.iou,
                    device="cpu",
                    verbose=False,
                    batch=len(images),
                )
            for r in results:
                xyxy = r.boxes.xyxy.cpu().numpy().reshape(-1, 4)
                scores = r.boxes.conf.cpu().numpy().reshape(-1)
                boxes = [
                    Box(*map(float, b), score=float(s)) for b, s in zip(xyxy, scores, strict=True)
                ]
                out.append(sorted(boxes, key=lambda b: -b.score))
        return out
