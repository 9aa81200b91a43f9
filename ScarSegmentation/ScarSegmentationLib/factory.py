"""Build the pipeline from the stages whose models are installed.

Stage 1-2 networks are required (without them there is no myocardium to work on); stage 3 is
used when installed. The quantification stage always runs last.
Models are loaded once here (and cached by `weights`), so one Pipeline serves many studies.
"""

from __future__ import annotations

from . import weights
from .errors import ModelError
from .pipeline import Pipeline, PipelineOptions, Stage

# Stage 2's network, first installed wins: the joint myocardium + scar net (the U-Net scar
# head; on the val patients its myocardium scored Dice 0.834 EMIDEC / 0.821 MyoPS against the
# myocardium-only net's 0.830 / 0.812, class weights undone in both, and the scar head stage
# then reuses its passes instead of running a second near-identical U-Net), else the
# myocardium-only net.
MYOCARDIUM_NETS = ("scar_unet", "myocardium")


def _stage1_2() -> list[Stage]:
    from .stages.harmonize import IntensityHarmonizeStage
    from .stages.myocardium import MyocardiumStage
    from .stages.roi import LVROIStage
    from .stages.standardize import StandardizeStage

    myocardium_net = next((n for n in MYOCARDIUM_NETS if weights.available(n)), MYOCARDIUM_NETS[-1])
    for name in ("lv_roi", myocardium_net):
        if not weights.available(name):
            raise ModelError(
                f"model '{name}' is not installed: {weights.model_path(name)} is missing "
                "(reinstall the extension, or set SCARSEG_MODELS to the folder holding it)"
            )
    return [
        StandardizeStage(),
        LVROIStage(weights.load_model("lv_roi")),
        IntensityHarmonizeStage(),  # a heart darker / brighter than in training: gamma
        MyocardiumStage(weights.load_model(myocardium_net)),
    ]


def _anatomy() -> list[Stage]:
    from .anatomy import model as anatomy_model
    from .stages.anatomy import AnatomyStage

    if not anatomy_model.available():
        return []
    return [AnatomyStage(anatomy_model.load_anatomy_model())]


# What "auto" runs for the scar when its weights are installed (else the FWHM threshold). The
# U-Net head of the cross-validation ensemble (scar_unet.md): on patients no network of either
# release trained on, its members matched the previous `fused` (YOLO + SAM) default within the
# noise, so SAM's encoder, most of a study's time, is no longer run by default (README, Results).
AUTO_SCAR_METHOD = "unet"
SCAR_WEIGHTS = {
    "unet": ("scar_unet",),
    "network": ("scar_detector", "sam_encoder", "scar_segmenter"),
    "fused": ("scar_detector", "sam_encoder", "scar_segmenter", "scar_unet"),
}


def _scar_stages(options: PipelineOptions) -> list[Stage]:
    """The scar stages of the chosen method; "threshold" and "none" need none here (the FWHM
    threshold runs inside QuantifyStage)."""
    method = options.scar_method
    if method == "auto":
        method = AUTO_SCAR_METHOD
        if not all(weights.available(n) for n in SCAR_WEIGHTS.get(method, ())):
            method = "threshold"
    if method not in SCAR_WEIGHTS:
        return []
    missing = [n for n in SCAR_WEIGHTS[method] if not weights.available(n)]
    if missing:
        raise ModelError(
            f"scar method '{method}' needs {', '.join(n + '.onnx' for n in missing)} in "
            f"{weights.models_dir()}"
        )
    presence = _presence(options, method)
    if method == "unet":
        from .stages.scar_unet import ScarUNetStage

        head = ScarUNetStage(weights.load_model("scar_unet"))
        return [*_refiner(options, head, presence), head, *presence]
    from .runtime.detector import OnnxScarDetector
    from .scar.segmenter import load_segmenter
    from .stages.scar_detect import ScarDetectStage
    from .stages.scar_segment import ScarSegmentStage

    detector = OnnxScarDetector.load(weights.model_path("scar_detector"))
    if method == "network":
        return [ScarDetectStage(detector), ScarSegmentStage(load_segmenter()), *presence]
    from .stages.scar_fuse import ScarFuseStage
    from .stages.scar_head_boxes import ScarHeadBoxesStage

    head = weights.load_model("scar_unet")
    return [
        ScarDetectStage(detector),
        ScarHeadBoxesStage(head),  # the head's scar the detector missed: more SAM prompts
        ScarSegmentStage(load_segmenter()),
        ScarFuseStage(head),
        *presence,
    ]


# The wall refiner (scar_refiner.md) runs before the U-Net head when installed: trained on the
# head's cross-validated output, it is measured for that method only.
REFINER = "scar_refiner"


def _refiner(options: PipelineOptions, head: Stage, presence: list[Stage]) -> list[Stage]:
    if not options.refine_wall or not weights.available(REFINER):
        return []
    from .stages.scar_refine import ScarRefineStage

    return [ScarRefineStage(weights.load_model(REFINER), head, *presence[:1])]


def _presence(options: PipelineOptions, method: str) -> list[Stage]:
    if not options.scar_presence:
        return []
    from .stages.scar_presence import ScarPresenceStage, rule_for

    return [ScarPresenceStage(rule_for(method))]


def build_pipeline(options: PipelineOptions | None = None) -> Pipeline:
    from .runtime import session
    from .stages.quantify import QuantifyStage

    options = options or PipelineOptions()
    session.set_threads(options.threads)  # before the first model of this pipeline is loaded
    session.set_device(options.device)
    # Without a scar stage (scar_method "threshold", or "auto" resolving to it), QuantifyStage
    # segments the scar by FWHM threshold inside the predicted myocardium ("none": no scar).
    stages = [*_stage1_2(), *_anatomy(), *_scar_stages(options), QuantifyStage()]
    return Pipeline(stages, options)
