"""Import the output-writing libraries in a background thread while the networks run.

Writing a study's outputs needs slicer-core (VTK and the MRML libraries) and matplotlib, whose
imports take seconds; the pipeline spends most of its time inside ONNX Runtime, which releases
the GIL, so the imports overlap with it instead of adding to the run (bench/bench_inference.py).
"""

from __future__ import annotations

import importlib
import threading

OUTPUT_MODULES = (
    "ScarSegmentationLib.mrml",
    "ScarSegmentationLib.logic",
    "ScarSegmentationLib.render",
    "ScarQuantificationLib.bullseye",
)


def _import_all(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the writer imports it again and reports the error
            return


def start(names: tuple[str, ...] = OUTPUT_MODULES) -> threading.Thread:
    """Start importing `names` in a daemon thread; a later import in any thread waits for it."""
    thread = threading.Thread(target=_import_all, args=(names,), name="preload", daemon=True)
    thread.start()
    return thread
