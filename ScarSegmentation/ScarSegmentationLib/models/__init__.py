"""Neural networks (PyTorch, CPU)."""

from .unet import ResUNet, enable_mc_dropout, mc_predict

__all__ = ["ResUNet", "enable_mc_dropout", "mc_predict"]
