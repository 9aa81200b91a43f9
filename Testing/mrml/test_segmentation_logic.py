"""The console/GUI API: logic.process(volumeNode) on a real scene, then ScarQuantification."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from ScarQuantificationLib.mrml_logic import ScarQuantificationHeadlessLogic
from ScarSegmentationLib import mrml
from ScarSegmentationLib.errors import CancelledError
from ScarSegmentationLib.logic import ScarSegmentationHeadlessLogic
from ScarSegmentationLib.phantom import make_phantom
from ScarSegmentationLib.pipeline import PipelineOptions


@pytest.fixture(scope="module")
def logic():
    return ScarSegmentationHeadlessLogic(options=PipelineOptions(mc_samples=2))


def _phantom_scene():
    study, labels = make_phantom(seed=3)
    scene = mrml.new_scene()
    return scene, mrml.volume_node_from_study(scene, study, "LGE phantom"), labels


def _segment_names(seg):
    s = seg.GetSegmentation()
    return {s.GetNthSegment(i).GetName() for i in range(s.GetNumberOfSegments())}


def test_process_returns_nodes_and_quantification_refills_them(logic):
    scene, volume, labels = _phantom_scene()
    fractions = []
    res = logic.process(volume, progress=lambda f, m: fractions.append(f))
    assert fractions[-1] == 1.0
    assert {"Myocardium", "Blood pool", "Scar"} <= _segment_names(res.segmentation_node)
    assert {"measurements", "slices"} <= set(res.table_nodes)
    assert "Myocardium uncertainty" in res.map_nodes
    myo = mrml.masks_from_segmentation_node(res.segmentation_node, volume)["Myocardium"]
    ref = labels >= 2
    dice = 2 * (myo & ref).sum() / (myo.sum() + ref.sum())
    assert dice > 0.5, f"the phantom's myocardium should be found (Dice {dice:.2f})"

    n_nodes = scene.GetNumberOfNodes()
    quant = ScarQuantificationHeadlessLogic(scene)
    tables = quant.compute(res.segmentation_node, volume)
    assert tables["measurements"].GetID() == res.table_nodes["measurements"].GetID()
    assert scene.GetNumberOfNodes() == n_nodes, "recompute refills the pipeline's tables"


def test_process_cancelled_leaves_scene_unchanged(logic):
    scene, volume, _ = _phantom_scene()
    n_nodes = scene.GetNumberOfNodes()
    cancel = threading.Event()

    def progress(fraction, message):
        if fraction > 0.3:
            cancel.set()

    with pytest.raises(CancelledError):
        logic.process(volume, progress=progress, cancel=cancel)
    assert scene.GetNumberOfNodes() == n_nodes


def test_models_load_once_across_studies(logic):
    first = logic.pipeline
    scene, volume, _ = _phantom_scene()
    logic.process(volume)
    assert logic.pipeline is first
    assert np.isfinite(first.options.mc_samples)
