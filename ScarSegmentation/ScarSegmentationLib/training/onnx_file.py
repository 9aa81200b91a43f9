"""Writing the shipped ONNX files: trace a torch module, put the network's config in the model's
metadata (`runtime.session.CONFIG_KEY`), and replace the file atomically (a reader sees the old
file or the new one, never half of one)."""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ..runtime.session import CONFIG_KEY

OPSET = 17


def trace(
    module: Any, args: tuple, inputs: list[str], outputs: list[str], dynamic: dict[str, Any]
) -> Any:
    """torch.onnx.export (the TorchScript tracer) of `module` on `args`, as an onnx ModelProto."""
    import onnx
    import torch

    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter
        torch.onnx.export(
            module, args, buffer, dynamo=False, opset_version=OPSET,
            input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
        )  # fmt: skip
    return onnx.load_from_string(buffer.getvalue())


def set_config(model: Any, config_json: str, drop: tuple[str, ...] = ()) -> None:
    """Store the config JSON in the metadata, replacing an earlier one and the `drop` keys."""
    kept = [p for p in model.metadata_props if p.key not in (*drop, CONFIG_KEY)]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = CONFIG_KEY, config_json


def save(model: Any, path: Path) -> Path:
    """Write the model to a temporary file beside `path`, then rename it into place."""
    import onnx

    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".onnx", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        onnx.save(model, str(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is not secret
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
