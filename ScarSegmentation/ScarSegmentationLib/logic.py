"""Headless logic: the one place where a pipeline result becomes MRML nodes.

Serves the three front doors: the module GUI (ScarSegmentationLogic inherits from this class),
the Slicer Python console (`logic.process(volumeNode)`) and the `scarseg` command line (which
builds its own scene with slicer-core).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ScarQuantificationLib.mrml_logic import link_result_tables, tag_derived

from . import mrml
from .pipeline import Pipeline, PipelineOptions, PipelineResult, ProgressCallback

# Volumes the pipeline may produce besides the segments, shown as scalar volumes in Slicer.
MAP_NAMES = (
    "Myocardium probability",
    "Myocardium uncertainty",
    "Scar probability",
    "Scar uncertainty",
)


@dataclass
class SceneNodes:
    volume_node: Any
    segmentation_node: Any
    table_nodes: dict[str, Any] = field(default_factory=dict)
    map_nodes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProcessResult(SceneNodes):
    result: PipelineResult | None = None


def add_result_to_scene(
    scene: Any,
    volume_node: Any,
    result: PipelineResult,
    segmentation_node: Any = None,
    keep_maps: bool = True,
) -> SceneNodes:
    """Segments, tables and maps of `result` as nodes, placed under patient > study."""
    name = volume_node.GetName()
    seg = mrml.segmentation_node_from_masks(
        scene, result.masks, volume_node, f"{name} segmentation", node=segmentation_node
    )
    if "No-reflow" in result.masks:
        tag_derived(seg, "No-reflow")  # recomputed by ScarQuantification after scar edits
    tables = {
        key: mrml.table_node_from_table(scene, table, name=f"{name} {key}")
        for key, table in result.tables.items()
    }
    maps = {}
    if keep_maps:
        for key in MAP_NAMES:
            if key in result.maps:
                maps[key] = mrml.scalar_map_node(
                    scene, result.maps[key], volume_node, f"{name} {key.lower()}"
                )
    patient = result.study.metadata.get("PatientName") or result.study.metadata.get(
        "PatientID", name
    )
    study_name = result.study.metadata.get("StudyDescription") or name
    mrml.place_in_subject_hierarchy(
        scene, patient, study_name, [volume_node, seg, *tables.values(), *maps.values()]
    )
    # ScarQuantification's Recompute (after manual edits) refills these tables, not new ones.
    link_result_tables(seg, volume_node, tables)
    return SceneNodes(volume_node, seg, tables, maps)


class ScarSegmentationHeadlessLogic:
    """Runs the pipeline on a volume node and returns the nodes it created.

    The pipeline (and its models) is built on first use and reused for every later call.
    """

    def __init__(self, scene: Any = None, options: PipelineOptions | None = None) -> None:
        self.scene = scene
        self.options = options or PipelineOptions()
        self._pipeline: Pipeline | None = None
        self._pipeline_options: PipelineOptions | None = None

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None or self._pipeline_options != self.options:
            from .factory import build_pipeline

            self._pipeline = build_pipeline(self.options)
            self._pipeline_options = PipelineOptions(**vars(self.options))
        return self._pipeline

    def process(
        self,
        volumeNode: Any,  # noqa: N803 - Slicer's camelCase API
        segmentationNode: Any = None,  # noqa: N803
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> ProcessResult:
        scene = self.scene or volumeNode.GetScene()
        study = mrml.study_from_volume_node(volumeNode)
        result = self.pipeline.run(study, progress=progress, cancel=cancel)
        nodes = add_result_to_scene(
            scene, volumeNode, result, segmentationNode, keep_maps=self.options.keep_probabilities
        )
        return ProcessResult(
            nodes.volume_node, nodes.segmentation_node, nodes.table_nodes, nodes.map_nodes, result
        )
