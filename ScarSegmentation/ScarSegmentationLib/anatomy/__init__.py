"""Stage 3: anatomical plausibility of myocardium masks (checks, autoencoder, latent bank,
correction, volumetric checks), after ACSNet (Popescu et al.)."""

from .checks import CheckResult, CheckThresholds, check_myocardium
from .correct import Correction, correct_mask
from .latent import LatentBank, build_bank
from .model import AnatomyModel, load_anatomy_model
from .volumetric import VolumetricDecision, volumetric_check

__all__ = [
    "AnatomyModel",
    "CheckResult",
    "CheckThresholds",
    "Correction",
    "LatentBank",
    "VolumetricDecision",
    "build_bank",
    "check_myocardium",
    "correct_mask",
    "load_anatomy_model",
    "volumetric_check",
]
