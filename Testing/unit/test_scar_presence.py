"""Scar presence: specks dropped, small totals called scar-free, no-reflow follows the scar."""

from __future__ import annotations

import numpy as np
import pytest
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions
from ScarSegmentationLib.scar.presence import PresenceRule, apply_presence
from ScarSegmentationLib.stages.scar_presence import INACTIVE, ScarPresenceStage, rule_for
from ScarSegmentationLib.study import Study


def heart() -> tuple[np.ndarray, np.ndarray]:
    """1000 myocardium voxels; a 60-voxel lesion over two slices and a 3-voxel speck."""
    myo = np.zeros((3, 20, 50), bool)
    myo[:, :, :] = False
    myo[0:2, 0:10, 0:50] = True  # 1000 voxels
    scar = np.zeros_like(myo)
    scar[0:2, 0:3, 0:10] = True  # 60 voxels, one 3D lesion (slices overlap in-plane)
    scar[0, 8, 40:43] = True  # 3-voxel speck
    return myo, scar


def test_no_rule_keeps_everything_and_copies():
    myo, scar = heart()
    res = apply_presence(scar, myo, PresenceRule())
    np.testing.assert_array_equal(res.scar, scar)
    assert res.lesions_dropped == 0 and not res.scar_free and res.scar is not scar


def test_specks_below_the_lesion_share_are_dropped():
    myo, scar = heart()
    res = apply_presence(scar, myo, PresenceRule(min_lesion_percent=1.0))  # 10 voxels
    assert res.lesions_dropped == 1 and not res.scar_free
    assert res.scar.sum() == 60 and not res.scar[0, 8].any()


def test_a_small_total_makes_the_heart_scar_free():
    myo, scar = heart()
    assert apply_presence(scar, myo, PresenceRule(min_burden_percent=6.4)).scar_free  # 6.3 %
    kept = apply_presence(scar, myo, PresenceRule(min_burden_percent=6.3))
    assert not kept.scar_free and kept.scar.sum() == 63
    # the burden limit counts what the lesion limit left
    res = apply_presence(scar, myo, PresenceRule(min_lesion_percent=1.0, min_burden_percent=6.1))
    assert res.scar_free and res.lesions_dropped == 2 and not res.scar.any()


def test_unsure_lesions_go_by_their_mean_probability():
    myo, scar = heart()
    prob = np.where(scar, 0.9, 0.0)
    prob[0, 8, 40:43] = 0.55  # the speck: the network is unsure
    rule = PresenceRule(min_lesion_probability=0.7)
    assert rule.name.endswith(",prob>=0.7") and "prob" not in PresenceRule().name
    res = apply_presence(scar, myo, rule, prob)
    assert res.lesions_dropped == 1 and res.scar.sum() == 60
    prob[0:2, 0:3, 0:10] = 0.6  # the lesion too
    assert apply_presence(scar, myo, rule, prob).scar_free
    with pytest.raises(ValueError, match="needs the scar probability"):
        apply_presence(scar, myo, rule)


def test_scar_outside_the_myocardium_is_not_counted():
    myo, scar = heart()
    scar[2] = True  # slice without myocardium
    res = apply_presence(scar, myo, PresenceRule())
    assert not res.scar[2].any()


def test_stage_updates_scar_and_no_reflow_and_says_so():
    myo, scar = heart()
    ctx = PipelineContext(Study(image=np.zeros(myo.shape, np.float32), spacing=(1, 1, 8)),
                          PipelineOptions())  # fmt: skip
    nr = np.zeros_like(scar)
    nr[0, 8, 41] = nr[0, 1, 1] = True
    ctx.masks.update({"Myocardium": myo, "Scar": scar, "No-reflow": nr})
    ScarPresenceStage(PresenceRule(min_lesion_percent=1.0)).run(ctx, lambda f, m: None)
    assert ctx.masks["Scar"].sum() == 60
    assert ctx.masks["No-reflow"].sum() == 1 and ctx.masks["No-reflow"][0, 1, 1]
    assert any("1 lesion(s)" in n for n in ctx.notes)
    ScarPresenceStage(PresenceRule(min_burden_percent=10)).run(ctx, lambda f, m: None)
    assert not ctx.masks["Scar"].any() and not ctx.masks["No-reflow"].any()
    assert any("reported as no scar" in n for n in ctx.notes)


def test_only_the_calibrated_scar_method_gets_a_rule():
    # the rule was chosen on the unet ensemble's cross-validated rows: SAM methods keep all
    assert rule_for("unet").min_lesion_percent > 0 and rule_for("unet").min_burden_percent > 0
    assert rule_for("fused") == INACTIVE and rule_for("network") == INACTIVE


def test_factory_gives_the_stage_its_methods_rule_and_the_option_switches_it_off():
    from ScarSegmentationLib import factory

    (stage,) = factory._presence(PipelineOptions(), "unet")
    assert stage.rule == rule_for("unet")
    (stage,) = factory._presence(PipelineOptions(), "fused")
    assert stage.rule == INACTIVE
    assert factory._presence(PipelineOptions(scar_presence=False), "unet") == []


def test_keep_all_scar_flag_turns_the_rule_off():
    import argparse

    from ScarSegmentationLib.commands.options import add_pipeline_arguments, pipeline_options

    ap = argparse.ArgumentParser()
    add_pipeline_arguments(ap)
    assert pipeline_options(ap.parse_args([])).scar_presence
    assert not pipeline_options(ap.parse_args(["--keep-all-scar"])).scar_presence
