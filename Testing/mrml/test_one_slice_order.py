"""One apex-to-base order and one AHA orientation per study, whoever computes them (issue 14):
the pipeline's quantification stage and ScarQuantification's compute on the same segments agree,
and a study stored the other way round through MRML nodes gives the same AHA table."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from quant_ring_scene import column
from ScarQuantificationLib.mrml_logic import ScarQuantificationHeadlessLogic
from ScarQuantificationLib.mrml_segments import segmentation_node_from_masks
from ScarSegmentationLib.mrml_volumes import volume_node_from_study
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions
from ScarSegmentationLib.stages.quantify import QuantifyStage
from ScarSegmentationLib.study import Study
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_rv_insertion import SPACING, N, phantom  # noqa: E402

DIRECTION = Rotation.from_euler("xyz", [25.0, -40.0, 65.0], degrees=True).as_matrix()
ORIGIN = np.array([-20.0, 35.0, 60.0])


def _study(reverse: bool = False) -> tuple[Study, dict[str, np.ndarray]]:
    """The synthetic LGE stack of test_rv_insertion (LV grows with k), stored with k = 0 at the
    apex, or reversed (array and direction flipped: the same physical image)."""
    image, myo, bp, scar = phantom(seed=3)
    masks = {"Myocardium": myo, "Blood pool": bp, "Scar": scar}
    direction, origin = DIRECTION.copy(), ORIGIN.copy()
    if reverse:
        origin = origin + (N - 1) * SPACING[2] * direction[:, 2]
        direction[:, 2] *= -1
        image = image[::-1].copy()
        masks = {n: m[::-1].copy() for n, m in masks.items()}
    study = Study(image.astype(np.float32), SPACING, tuple(origin), direction, name="rv")
    return study, masks


def _pipeline_tables(study: Study, masks: dict[str, np.ndarray]):
    ctx = PipelineContext(study=replace(study), options=PipelineOptions(scar_method="unet"))
    ctx.masks = {n: m.copy() for n, m in masks.items()}
    QuantifyStage().run(ctx, lambda f, m: None)
    return ctx


def _compute(scene, study: Study, masks: dict[str, np.ndarray]):
    volume = volume_node_from_study(scene, study, "lge")
    seg = segmentation_node_from_masks(scene, masks, volume, "seg")
    return ScarQuantificationHeadlessLogic(scene).compute(seg, volume)


def test_pipeline_and_recompute_share_order_and_aha(scene):
    study, masks = _study()
    ctx = _pipeline_tables(study, masks)
    tables = _compute(scene, study, masks)
    order = [int(k) for k in ctx.study.apex_to_base]
    assert order == list(range(N))  # anatomy: the LV grows with k
    assert [int(v) for v in column(tables["slices"], "slice_index")] == order
    assert ctx.tables["slices"].values("slice_index") == order
    aha = ctx.tables["aha"]
    assert [float(v) for v in column(tables["aha"], "scar_ml")] == pytest.approx(
        [v or 0.0 for v in aha.values("scar_ml")], abs=1e-6
    )
    assert column(tables["aha"], "angle_reference")[0] == aha.rows[0]["angle_reference"]
    assert "detected on the LGE image" in aha.rows[0]["angle_reference"]
    assert int(column(tables["aha"], "orientation_confident")[0]) == 1


def test_reversed_storage_through_nodes_gives_the_same_aha(scene):
    a = _compute(scene, *_study())
    b = _compute(scene, *_study(reverse=True))
    for name in ("myocardium_ml", "scar_ml", "scar_pct"):
        assert [float(v) for v in column(b["aha"], name)] == pytest.approx(
            [float(v) for v in column(a["aha"], name)], abs=1e-6
        ), name
    ranks_a = [int(v) for v in column(a["slices"], "slice_index")]
    ranks_b = [N - 1 - int(v) for v in column(b["slices"], "slice_index")]
    assert ranks_a == ranks_b
