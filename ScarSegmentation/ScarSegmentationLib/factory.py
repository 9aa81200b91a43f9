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


def build_pipeline(options: PipelineOptions | None = None) -> Pipeline:
    from .stages.quantify import QuantifyStage

    options = options or PipelineOptions()
    torch.set_num_threads(max(1, int(options.threads)))
    # Scar: no scar network is installed yet, so QuantifyStage segments it by FWHM threshold
    # inside the predicted myocardium unless options.scar_method == "none".
    stages = [*_stage1_2(), *_anatomy(), QuantifyStage()]
    return Pipeline(stages, options)
