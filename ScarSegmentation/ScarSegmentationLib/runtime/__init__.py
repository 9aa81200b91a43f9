"""Inference without PyTorch: ONNX Runtime sessions for every network the pipeline runs."""
