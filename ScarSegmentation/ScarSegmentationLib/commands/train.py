"""Train one of the models on the real data (CPU, resumable, logged).

MODEL is roi (stage 1 LV ROI U-Net), myocardium (myocardium-only stage 2 U-Net), scar_unet (the
joint myocardium + scar U-Net: stage 2 when installed, and the U-Net scar head), anatomy (stage 3
autoencoder + Gaussian mixture), detector (YOLO scar boxes) or segmenter (LiteMedSAM mask decoder
fine-tuned on scar). Data: SCARSEG_DATA or ../shared/data; patient split:
Resources/Models/split.json. Run `scarseg train MODEL --help` for the model's options.
"""

from __future__ import annotations

import argparse
import importlib

from ..errors import ScarSegError

TRAINERS = {
    "roi": "training.train_unet",
    "myocardium": "training.train_unet",
    "scar_unet": "training.train_unet",
    "anatomy": "training.train_anatomy",
    "detector": "training.train_detector",
    "segmenter": "training.train_segmenter",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, module_name in TRAINERS.items():
        p = sub.add_parser(name, help=f"train the {name} model")
        try:
            module = importlib.import_module(f"{__package__.rsplit('.', 1)[0]}.{module_name}")
        except ModuleNotFoundError as e:
            raise ScarSegError(
                f"training needs the training dependencies ({e.name} is not installed): "
                "pip install -r requirements-training.txt"
            ) from e
        module.add_arguments(p)
        p.set_defaults(_train=module.run)


def run(args: argparse.Namespace) -> int:
    return int(args._train(args) or 0)
