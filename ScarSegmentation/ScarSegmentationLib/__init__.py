"""Scar segmentation pipeline: study I/O, models, stages, command line. No Qt, no slicer.app."""

import os

# ONNX Runtime's Linux wheels look up a Microsoft telemetry host on every run unless this is set
# before onnxruntime is first imported (disable_telemetry_events() does not stop the lookup).
# Every entry point imports this package first, and child processes inherit the environment.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
