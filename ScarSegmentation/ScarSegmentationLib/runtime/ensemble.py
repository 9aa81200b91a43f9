"""Several networks of one kind (the cross-validation fold models) run as one SegNet.

A model installed as an ensemble has a manifest `<name>.ensemble.json` listing its member
files (each an ordinary exported U-Net with its checksum). `logits` averages the members'
softmax, each with its own training class weights undone, and returns the log of that mean (so
softmax(logits) is the ensemble's probability and the ensemble itself carries no class weights).
Stages that run several passes anyway (Monte-Carlo dropout with flips, stage 2) give each pass
to one member in turn instead (`member_probs`), so the ensemble costs no more passes. Members
may take different numbers of neighbouring slices (2.5D, `--context`): the ensemble takes the
widest input and hands each member the channels centred on the slice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax

from ..calibration import undo_model_class_weights
from ..errors import ModelError
from .unet import SegNet

MANIFEST_SUFFIX = ".ensemble.json"
# per-member settings that do not describe the ensemble
_MEMBER_KEYS = ("class_weights", "fold", "source", "epoch", "val")


def read_manifest(path: Path) -> list[Path]:
    """Member files of a manifest, next to it; ModelError naming the file when unreadable."""
    try:
        data = json.loads(Path(path).read_text())
        members = [Path(path).parent / str(m) for m in data["members"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"ensemble manifest {path} is unreadable: {e}") from e
    if not members:
        raise ModelError(f"ensemble manifest {path} lists no members")
    return members


def write_manifest(path: Path, members: list[str], about: str = "") -> Path:
    path.write_text(json.dumps({"members": members, "about": about}, indent=1) + "\n")
    return path


class EnsembleUNet:
    def __init__(self, members: list[SegNet], path: Path | None = None) -> None:
        if not members:
            raise ModelError("an ensemble needs at least one member")
        names = {tuple(m.config.get("class_names", [])) for m in members}
        if len(names) > 1:
            raise ModelError(f"ensemble members {path or ''} predict different classes: {names}")
        inputs = {int(m.config.get("in_channels", 1)) for m in members}
        if any(c % 2 == 0 for c in inputs):  # a slice and c neighbours on each side: 2c + 1
            raise ModelError(
                f"ensemble members {path or ''} take input channels {sorted(inputs)}: "
                "expected a slice with as many neighbours on each side (an odd count)"
            )
        self.members = list(members)
        self.path = path
        first = members[0].config
        self.config: dict[str, Any] = {k: v for k, v in first.items() if k not in _MEMBER_KEYS}
        # the widest input (most neighbouring slices); each member takes its centre channels
        self.config["in_channels"] = max(inputs)
        self.config["members"] = len(members)
        self.config["folds"] = [m.config.get("fold") for m in members]

    def member_probs(
        self,
        i: int,
        x: np.ndarray,
        rng: np.random.Generator | None = None,
        prior_power: float = 1.0,
    ) -> np.ndarray:
        """Member i's softmax (N, C, H, W), its class weights undone (calibration.py). x has the
        ensemble's widest input; a member with fewer neighbouring slices gets the centre ones."""
        m = self.members[i % len(self.members)]
        take = int(m.config.get("in_channels", 1))
        if x.ndim == 4 and x.shape[1] > take:
            start = (x.shape[1] - take) // 2
            x = np.ascontiguousarray(x[:, start : start + take])
        p = softmax(m.logits(x, rng), axis=1)
        return undo_model_class_weights(m, p, axis=1, power=prior_power)

    def logits(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        mean = np.mean([self.member_probs(i, x, rng) for i in range(len(self.members))], axis=0)
        return np.log(np.maximum(mean, 1e-12)).astype(np.float32)
