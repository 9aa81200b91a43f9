"""Build the pipeline from the stages whose models are installed.

Stage 1-2 networks are required (without them there is no myocardium to work on); stage 3 is
used when installed. The quantification stage always runs last.
Models are loaded once here (and cached by `weights`), so one Pipeline serves many studies.
"""

from __future__ import annotations

import torch

from . import weights
from .errors import ModelError
from .pipeline import Pipeline, PipelineOptions, Stage


def _stage1_2() -> list[Stage]:
    from .stages.myocardium import MyocardiumStage
    from .stages.roi import LVROIStage
    from .stages.standardize import StandardizeStage

    for name in ("lv_roi", "myocardium"):
        if not weights.available(name):
            raise ModelError(
                f"model '{name}' is not installed: {weights.model_path(name)} is missing "
                "(reinstall the extension, or set SCARSEG_MODELS to the folder holding it)"
            )
    return [
        StandardizeStage(),
        LVROIStage(weights.load_model("lv_roi")),
        MyocardiumStage(weights.load_model("myocardium")),
    ]


def _anatomy() -> list[Stage]:
    from .anatomy.model import load_anatomy_model
    from .stages.anatomy import AnatomyStage

    if not weights.available("anatomy"):
        return []
    return [AnatomyStage(load_anatomy_model(weights.model_path("anatomy")))]


# Whether "auto" uses the YOLO + LiteMedSAM scar network when it is installed. Off until the
# network beats the FWHM threshold on the validation patients (see Resources/Models/scar_*.md);
# "--scar-method network" runs it on request.
SCAR_NETWORK_IN_AUTO = False


def _scar_network(options: PipelineOptions) -> list[Stage]:
    """YOLO boxes -> LiteMedSAM masks, when asked for (or in "auto" once validated)."""
    installed = weights.available("scar_detector") and weights.available("scar_segmenter")
    if options.scar_method == "network" and not installed:
        raise ModelError(
            "scar method 'network' needs scar_detector.pt and scar_segmenter.pt in "
            f"{weights.models_dir()}"
        )
    wanted = options.scar_method == "network" or (
        options.scar_method == "auto" and SCAR_NETWORK_IN_AUTO and installed
    )
    if not wanted:
        return []
    from .scar.detector import ScarDetector
    from .scar.segmenter import load_segmenter
    from .stages.scar_detect import ScarDetectStage
    from .stages.scar_segment import ScarSegmentStage

    detector = ScarDetector.load(weights.model_path("scar_detector"))
    return [ScarDetectStage(detector), ScarSegmentStage(load_segmenter())]


def build_pipeline(options: PipelineOptions | None = None) -> Pipeline:
    from .stages.quantify import QuantifyStage

    options = options or PipelineOptions()
    torch.set_num_threads(max(1, int(options.threads)))
    # Without the scar network (or with scar_method "threshold"), QuantifyStage segments the
    # scar by FWHM threshold inside the predicted myocardium, unless scar_method is "none".
    stages = [*_stage1_2(), *_anatomy(), *_scar_network(options), QuantifyStage()]
    return Pipeline(stages, options)
