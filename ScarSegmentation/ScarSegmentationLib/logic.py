"""Headless logic: the one place where a pipeline result becomes MRML nodes.

Serves the three front doors: the module GUI (ScarSegmentationLogic inherits from this class),
the Slicer Python console (`logic.process(volumeNode)`) and the `scarseg` command line (which
builds its own scene with slicer-core).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ScarQuantificationLib.mrml_logic import (
    link_result_tables,
    result_tables,
    tag_derived,
)
from ScarQuantificationLib.mrml_plots import remove_plots

from . import mrml
from .pipeline import Pipeline, PipelineOptions, PipelineResult, ProgressCallback

# Volumes the pipeline may produce besides the segments, shown as scalar volumes in Slicer.
MAP_NAMES = (
    "Myocardium probability",
    "Myocardium uncertainty",
    "Scar probability",
    "Scar uncertainty",
    "No-reflow probability",
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


# Node references from the segmentation node to the input volume and to the pipeline's other
# outputs, so that a repeated Apply on the same volume refills them instead of adding new nodes
# (references, unlike attributes, follow node IDs through a .mrb save and load).
INPUT_ROLE = "ScarSegmentationInput"
TABLE_ROLE = "ScarSegmentationTable_{}"
MAP_ROLE = "ScarSegmentationMap_{}"


def _role(template: str, key: str) -> str:
    return template.format(key.replace(" ", "_"))  # a role is one word in the scene file


def previous_segmentation(scene: Any, volume_node: Any) -> Any:
    """The segmentation an earlier Apply made from this volume (the latest one), or None."""
    found = None
    nodes = scene.GetNodesByClass("vtkMRMLSegmentationNode")
    for index in range(nodes.GetNumberOfItems()):
        node = nodes.GetItemAsObject(index)
        if node.GetNodeReferenceID(INPUT_ROLE) == volume_node.GetID():
            found = node
    return found


def add_result_to_scene(
    scene: Any,
    volume_node: Any,
    result: PipelineResult,
    segmentation_node: Any = None,
    keep_maps: bool = True,
) -> SceneNodes:
    """Segments, tables and maps of `result` as nodes beside the input volume.

    The nodes go under the volume's study in the subject hierarchy (mrml.place_with_volume); the
    volume is not moved. The segmentation observes the volume's parent transform and its segments
    carry standard codes; the maps do too and get a colour table and window.
    `segmentation_node`: fill this node (kept segments stay); without it, the segmentation an
    earlier Apply made from this volume is refilled, else a new one is made. The tables and maps
    linked to the segmentation are refilled in place, and those this result no longer has are
    removed, so a repeated Apply replaces its outputs instead of adding nodes.
    """
    name = volume_node.GetName()
    if segmentation_node is None:
        segmentation_node = previous_segmentation(scene, volume_node)
    seg = mrml.segmentation_node_from_masks(
        scene, result.masks, volume_node, f"{name} segmentation", node=segmentation_node
    )
    if "No-reflow" in result.masks:
        tag_derived(seg, "No-reflow")  # recomputed by ScarQuantification after scar edits
    seg.SetNodeReferenceID(INPUT_ROLE, volume_node.GetID())

    old_tables = {**result_tables(seg), **_linked(seg, TABLE_ROLE, result.tables)}
    tables = {}
    for key, table in result.tables.items():
        old = old_tables.get(key)
        tables[key] = mrml.table_node_from_table(
            scene, table, name=None if old is not None else f"{name} {key}", node=old
        )
    maps = {}
    if keep_maps:
        old_maps = _linked(seg, MAP_ROLE, MAP_NAMES)
        for key in MAP_NAMES:
            if key in result.maps:
                maps[key] = mrml.scalar_map_node(
                    scene,
                    result.maps[key],
                    volume_node,
                    f"{name} {key.lower()}",
                    node=old_maps.get(key),
                )
    _replace_links(scene, seg, TABLE_ROLE, tables)
    _replace_links(scene, seg, MAP_ROLE, maps)
    # ScarQuantification's Recompute (after manual edits) refills these tables, not new ones.
    link_result_tables(seg, volume_node, tables)
    mrml.place_with_volume(scene, volume_node, [seg, *tables.values(), *maps.values()])
    return SceneNodes(volume_node, seg, tables, maps)


def _linked(seg: Any, template: str, keys: Any) -> dict[str, Any]:
    found = {}
    for key in keys:
        node = seg.GetNodeReference(_role(template, key))
        if node is not None:
            found[key] = node
    return found


def _replace_links(scene: Any, seg: Any, template: str, nodes: dict[str, Any]) -> None:
    """Link `nodes` from the segmentation; remove the nodes of earlier links not among them."""
    keep = {_role(template, key): node for key, node in nodes.items()}
    prefix = template.format("")
    roles = [seg.GetNthNodeReferenceRole(i) for i in range(seg.GetNumberOfNodeReferenceRoles())]
    for role in roles:
        if not role.startswith(prefix):
            continue
        old = seg.GetNodeReference(role)
        if old is not None and old is not keep.get(role):
            if old.IsA("vtkMRMLTableNode"):
                remove_plots(old)
            scene.RemoveNode(old)
        if role not in keep:
            seg.RemoveNodeReferenceIDs(role)
    for role, node in keep.items():
        seg.SetNodeReferenceID(role, node.GetID())


class ScarSegmentationHeadlessLogic:
    """Runs the pipeline on a volume node and returns the nodes it created.

    process(): synchronous, in this process (console, scripts); the pipeline (and its models) is
    built on first use and reused for every later call. startBackground() / loadBackground():
    the same in a child process, polled by the caller, for the module's Apply (background.py).
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

    def startBackground(  # noqa: N802 - Slicer's camelCase API
        self,
        volumeNode: Any,  # noqa: N803
        segmentationNode: Any = None,  # noqa: N803
        python: str | None = None,
    ) -> Any:
        """Start the pipeline on `volumeNode` in a child process; returns a BackgroundRun to poll
        (run.poll(), run.fraction, run.message, run.finished) or cancel (run.cancel()). The scene
        is not changed until loadBackground(run)."""
        from .background import start_background

        return start_background(volumeNode, self.options, segmentationNode, python=python)

    def loadBackground(self, run: Any) -> ProcessResult:  # noqa: N802
        """The finished run's results as nodes, as process() returns them."""
        from .background import load_background_result

        return load_background_result(run)
