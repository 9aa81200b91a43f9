"""Export the YOLO scar detector checkpoint to ONNX for the pipeline (no PyTorch at runtime).

    python -m ScarSegmentationLib.training.export_detector_onnx [--models DIR]

Resources/Models/scar_detector.pt (ultralytics YOLO11n, one class, imgsz 256) ->
Resources/Models/scar_detector.onnx, its SHA256 line in checksums.sha256. The graph is the raw
detection head, (N, 3, 256, 256) -> (N, 5, anchors), with a dynamic batch (as fast as a static
batch of 8 and faster than batch 1 per frame, measured); box decoding and NMS run in numpy
(`runtime.detector`), step for step as ultralytics' predict, so the threshold stays a setting
rather than a constant of the graph. The config in the ONNX metadata (`runtime.session.CONFIG_KEY`)
holds the score threshold tuned on the val split (the checkpoint's `scarseg_conf`), the NMS IoU,
max_det and the input size. Offline: ultralytics is set up by `training.yolo.configure_offline`,
the graph is not simplified (no onnxslim), and the export's timestamp is dropped so the same
checkpoint gives the same file (and checksum).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .. import weights
from ..runtime.detector import MAX_DET
from ..scar.detector import CONF, CONF_KEY, NMS_IOU
from ..scar.frame import SCAR_SIZE

NAME = "scar_detector"
DROP_METADATA = ("date",)  # ultralytics' export timestamp: the file would differ on every run


def _onnx_export(pt: Path) -> tuple[Path, dict[str, Any]]:
    """ultralytics' ONNX export of `pt` (written beside it) and facts from the checkpoint."""
    from .yolo import keep_torch_threads, ultralytics_yolo

    model = ultralytics_yolo()(str(pt), task="detect")
    ckpt = getattr(model, "ckpt", None) or {}
    stored = ckpt.get(CONF_KEY)
    facts = {
        "conf": float(stored if stored is not None else CONF),
        "ultralytics": ckpt.get("version"),
        "names": [str(n) for _, n in sorted(model.names.items())],
    }
    with keep_torch_threads():
        out = model.export(
            format="onnx",
            imgsz=SCAR_SIZE,
            dynamic=True,  # batch (ultralytics also frees height/width; fixed again below)
            simplify=False,
            nms=False,
            half=False,
            batch=1,
            device="cpu",
            verbose=False,
        )
    return Path(out), facts


def export(directory: Path | None = None) -> Path:
    """<models>/scar_detector.pt -> <models>/scar_detector.onnx (+ its checksum line)."""
    import onnx

    from . import onnx_file
    from .export import record_checksum

    directory = Path(directory) if directory is not None else weights.models_dir()
    src = weights.model_path(NAME, directory, suffix=".pt")
    dest = weights.model_path(NAME, directory)
    weights.verify_checksum(src)
    with tempfile.TemporaryDirectory(prefix="scarseg-detector-onnx-") as tmp:
        pt = Path(tmp) / src.name  # ultralytics writes the .onnx beside the .pt: not in Models
        shutil.copyfile(src, pt)
        exported, facts = _onnx_export(pt)
        model = onnx.load(str(exported))
    (images,) = model.graph.input
    dims = images.type.tensor_type.shape.dim
    for d in dims[2:]:  # height and width: the scar frame's size; only the batch is free
        d.ClearField("dim_param")
        d.dim_value = SCAR_SIZE
    config = {
        "model": NAME,
        "task": "detect",
        "names": facts["names"],
        "imgsz": SCAR_SIZE,
        "input": f"{images.name}: (N, 3, {SCAR_SIZE}, {SCAR_SIZE}) float32 RGB in [0, 1]",
        "output": "(N, 4 + classes, anchors): box centre x, y, width, height (input pixels), "
        "class scores (sigmoid); no NMS in the graph",
        "conf": facts["conf"],
        "iou": NMS_IOU,
        "max_det": MAX_DET,
        "nms": "greedy, IoU > iou suppressed, as torchvision.ops.nms (runtime.detector.nms)",
        "source": src.name,
        "source_sha256": weights.sha256(src),
        "ultralytics": facts["ultralytics"],
    }
    onnx_file.set_config(model, json.dumps(config), drop=DROP_METADATA)
    onnx.checker.check_model(model)
    onnx_file.save(model, dest)
    record_checksum(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=None, help="models folder (default: Resources/Models)")
    args = ap.parse_args(argv)
    path = export(Path(args.models) if args.models else None)
    from ..runtime.detector import OnnxScarDetector

    det = OnnxScarDetector.load(path)
    print(
        path,
        weights.sha256(path),
        f"{path.stat().st_size / 1e6:.2f} MB",
        f"conf {det.conf:g} iou {det.iou:g}",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
