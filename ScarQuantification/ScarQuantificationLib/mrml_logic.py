"""Headless logic of the Scar Quantification module: segmentation + LGE volume -> table nodes,
"Core scar" / "Gray zone" segments, plot charts, CSV files and a PNG report.

Works on slicer-core (tests, command line) and in Slicer (ScarQuantificationLogic inherits it).
Result nodes are found again through node references from the segmentation node, so a recompute
after Segment Editor edits refills the same table (and chart) nodes, also after a .mrb round trip.
Heavy modules (scipy, scikit-image, matplotlib) are imported inside the methods: Slicer imports
this file at start-up, before the first-run installer has run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import slicer

from .apex_base import decide_from_masks
from .csv_export import write_csv
from .mrml_plots import create_plots, remove_plots
from .mrml_segments import (
    masks_from_segmentation_node,
    remove_segments,
    segmentation_node_from_masks,
)
from .mrml_tables import table_from_table_node, table_node_from_table
from .mrml_volumes import array_from_volume_node, world_geometry_lps
from .segments import SEGMENT_NAMES

TABLE_KEYS = ("measurements", "slices", "lesions", "aha")
# Segments read as input; the derived ones are always recomputed, never read back.
INPUT_SEGMENTS = ("Myocardium", "Blood pool", "Scar", "No-reflow")
DERIVED_SEGMENTS = ("Core scar", "Gray zone")
# Segment tag marking an input-named segment (No-reflow) this logic derived: recomputed next time.
DERIVED_TAG = "ScarQuantification.derived"
# Node reference role (segmentation node -> table node) per table key.
TABLE_ROLE = "ScarQuantificationTable_{}"
# Node reference role (result table or chart node -> the volume it was computed on).
VOLUME_ROLE = "ScarQuantificationVolume"
# Attributes of the result table nodes.
KEY_ATTRIBUTE = "ScarQuantification.Table"  # the table key
NOTES_ATTRIBUTE = "ScarQuantification.Notes"  # on "measurements": what was assumed or skipped
NO_CORE = ("", "none")


class ScarQuantificationHeadlessLogic:
    """Console use (in Slicer or on slicer-core):

    logic = ScarQuantificationHeadlessLogic()
    tables = logic.compute(segmentationNode, volumeNode)  # {"measurements": vtkMRMLTableNode, ...}
    charts = logic.createPlots(tables)
    logic.export(tables, "/tmp/results"); logic.saveReport(tables, "/tmp/report.png")
    """

    def __init__(self, scene: Any = None) -> None:
        # Cheap and repeatable: Slicer's logic base class also calls it without arguments.
        self.scene = scene
        self.notes: list[str] = []  # of the last compute

    # Computation -----------------------------------------------------------------------------

    def compute(
        self,
        segmentationNode: Any,  # noqa: N803 - Slicer's camelCase API
        volumeNode: Any,  # noqa: N803
        rvInsertionNode: Any = None,  # noqa: N803
        coreMethod: str | None = "fwhm-remote",  # noqa: N803
    ) -> dict[str, Any]:
        """Quantify; returns {"measurements", "slices"[, "lesions", "aha"]} -> vtkMRMLTableNode.

        segmentationNode needs a "Myocardium" segment (scar included); "Scar", "Blood pool" and
        "No-reflow" are used when present; other segments are ignored and kept. volumeNode: the
        LGE volume the segments were drawn on (their grid). rvInsertionNode: markups whose first
        control point is the anterior RV insertion (else the RV insertion points are detected on
        the LGE volume; aha.py). coreMethod: "fwhm-remote", "fwhm", "<n>sd" or None/"none" (no
        core scar / gray zone split; core_scar.py). The apex-to-base order is decided from the
        volume's geometry and these segments (apex_base.py), as the segmentation pipeline does.
        Writes "Core scar" and "Gray zone" segments into segmentationNode (replacing segments of
        those names, removing them when there is no split); refills the linked table nodes.
        """
        from .quantify import quantify  # scipy/scikit-image: only once installed

        _check_inputs(segmentationNode, volumeNode)
        scene = segmentationNode.GetScene() or self.scene
        # a No-reflow this logic derived earlier is recomputed from the current scar (as core
        # scar and gray zone are); one the user drew or imported is an input
        remove_segments(segmentationNode, _derived_segment_names(segmentationNode))
        masks = masks_from_segmentation_node(segmentationNode, volumeNode, names=INPUT_SEGMENTS)
        if "Myocardium" not in masks:
            present = _segment_names(segmentationNode)
            raise ValueError(
                f"segmentation {segmentationNode.GetName()!r} has no 'Myocardium' segment "
                f"(segments: {', '.join(present) or 'none'}); name the whole LV myocardium "
                "(scar included) 'Myocardium'"
            )
        image = array_from_volume_node(volumeNode).astype(np.float32)
        spacing, origin, direction = world_geometry_lps(volumeNode)
        normal = direction[:, 2]
        positions = origin @ normal + np.arange(image.shape[0]) * spacing[2]  # |normal| = 1
        notes: list[str] = []
        rv = _first_point_ras(rvInsertionNode, notes)
        method = None if coreMethod is None or str(coreMethod).lower() in NO_CORE else coreMethod

        result = quantify(
            image,
            masks,
            spacing,
            apex_to_base="auto",
            positions_mm=positions,
            direction=direction,
            rv_insertion=rv,
            rv_insertion_space="ras",
            origin=origin,
            core_method=method,
            scar_source="input",
        )
        notes.extend(result.notes)
        self.notes = notes

        derived = {n: result.masks[n] for n in DERIVED_SEGMENTS if n in result.masks}
        nr = result.masks.get("No-reflow")
        if "No-reflow" not in masks and nr is not None and nr.any():
            derived["No-reflow"] = nr  # split off the given scar
        remove_segments(segmentationNode, [n for n in DERIVED_SEGMENTS if n not in derived])
        if derived:
            segmentation_node_from_masks(scene, derived, volumeNode, node=segmentationNode)
        if "No-reflow" in derived:
            tag_derived(segmentationNode, "No-reflow")

        tables = self._tableNodes(scene, segmentationNode, volumeNode, result.tables)
        tables["measurements"].SetAttribute(NOTES_ATTRIBUTE, " | ".join(notes))
        _place_with_volume(scene, volumeNode, tables.values())
        return tables

    def _tableNodes(  # noqa: N802
        self,
        scene: Any,
        segmentationNode: Any,  # noqa: N803
        volumeNode: Any,  # noqa: N803
        results: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Refill (or create) one table node per result; remove those of tables no longer made."""
        existing = result_tables(segmentationNode)
        nodes = {}
        for key in TABLE_KEYS:
            node = existing.get(key)
            if key in results:
                # A new node gets a name; an existing one keeps the user's (or pipeline's) name.
                name = None if node is not None else f"{segmentationNode.GetName()} {key}"
                nodes[key] = table_node_from_table(scene, results[key], name=name, node=node)
            elif node is not None:  # e.g. the Scar segment was deleted: old numbers are stale
                remove_plots(node)
                scene.RemoveNode(node)
        link_result_tables(segmentationNode, volumeNode, nodes)
        return nodes

    # Charts, files ----------------------------------------------------------------------------

    def createPlots(self, tables: Mapping[str, Any]) -> dict[str, Any]:  # noqa: N802
        """{"bullseye": AHA scar % bar chart, "slices": scar % and transmurality per slice}, for
        the tables present; the same chart nodes are reused when called again."""
        charts = create_plots(tables)
        if tables:
            first = next(iter(tables.values()))
            volume = first.GetNodeReference(VOLUME_ROLE)
            if volume is not None:
                _place_with_volume(first.GetScene(), volume, charts.values())
        return charts

    def export(self, tables: Mapping[str, Any], folder: str | Path) -> list[str]:
        """Write `<key>.csv` + `<key>.schema.csv` per table (see csv_export); returns the paths."""
        written: list[str] = []
        for key, node in tables.items():
            table = table_from_table_node(node, name=key)
            written.extend(str(p) for p in write_csv(table, folder, name=key))
        return written

    def saveReport(  # noqa: N802
        self,
        tables: Mapping[str, Any],
        path: str | Path,
        segmentationNode: Any = None,  # noqa: N803
        volumeNode: Any = None,  # noqa: N803
    ) -> str:
        """PNG report: measurements, bullseye, per-slice chart; with both nodes, a slice montage
        with segment outlines. Returns the path written."""
        from .report import report_png  # matplotlib: only once installed

        converted = {key: table_from_table_node(node, name=key) for key, node in tables.items()}
        notes = []
        if "measurements" in tables:
            text = tables["measurements"].GetAttribute(NOTES_ATTRIBUTE) or ""
            notes = [n for n in text.split(" | ") if n]
        title = "Scar quantification"
        overview: dict[str, Any] = {}
        if segmentationNode is not None and volumeNode is not None:
            title += f": {segmentationNode.GetName()}"
            masks = masks_from_segmentation_node(segmentationNode, volumeNode, names=SEGMENT_NAMES)
            spacing, _, direction = world_geometry_lps(volumeNode)
            image = array_from_volume_node(volumeNode)
            overview = {
                "image": image,
                "masks": masks,
                "spacing": spacing,
                "apex_to_base": _order_of(converted.get("slices"))
                or _decided_order(masks, direction, image.shape),
            }
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        return str(report_png(converted, path, title=title, notes=notes, **overview))


def _order_of(slices: Any) -> list[int] | None:
    """The apex-to-base order the slices table was computed with (its rank column)."""
    if slices is None:
        return None
    names = {c.name for c in slices.columns}
    if not slices.rows or not {"apex_to_base_rank", "slice_index"} <= names:
        return None
    rows = sorted(slices.rows, key=lambda r: r["apex_to_base_rank"])
    return [int(r["slice_index"]) for r in rows]


def _decided_order(masks: Mapping[str, Any], direction: Any, shape: tuple) -> list[int]:
    lv = masks.get("Myocardium", np.zeros(shape, bool)) | masks.get("Blood pool", False)
    return [int(k) for k in decide_from_masks(direction, lv).order]


def result_tables(segmentation_node: Any) -> dict[str, Any]:
    """The result table nodes linked to a segmentation node, by key."""
    found = {}
    for key in TABLE_KEYS:
        node = segmentation_node.GetNodeReference(TABLE_ROLE.format(key))
        if node is not None:
            found[key] = node
    return found


def link_result_tables(segmentation_node: Any, volume_node: Any, tables: Mapping[str, Any]) -> None:
    """Make `tables` (key -> table node) the results of this segmentation, replacing earlier links.

    The next compute refills exactly these nodes. ScarSegmentation can call this on the tables
    its pipeline made, so that a recompute after editing updates them instead of adding new ones.
    """
    for key in TABLE_KEYS:
        role = TABLE_ROLE.format(key)
        node = tables.get(key)
        if node is None:
            segmentation_node.RemoveNodeReferenceIDs(role)
            continue
        node.SetAttribute(KEY_ATTRIBUTE, key)
        node.SetNodeReferenceID(VOLUME_ROLE, volume_node.GetID())
        segmentation_node.SetNodeReferenceID(role, node.GetID())


def _check_inputs(segmentationNode: Any, volumeNode: Any) -> None:  # noqa: N803
    if segmentationNode is None or not segmentationNode.IsA("vtkMRMLSegmentationNode"):
        raise ValueError("select a segmentation")
    if volumeNode is None or not volumeNode.IsA("vtkMRMLScalarVolumeNode"):
        raise ValueError("select the LGE volume the segmentation was drawn on")
    if volumeNode.IsA("vtkMRMLLabelMapVolumeNode"):
        raise ValueError(f"{volumeNode.GetName()!r} is a label map, not the LGE image")
    image = volumeNode.GetImageData()
    if image is None or image.GetNumberOfPoints() == 0 or image.GetNumberOfScalarComponents() != 1:
        raise ValueError(f"{volumeNode.GetName()!r} holds no single-component voxels")


def _segment_names(node: Any) -> list[str]:
    segmentation = node.GetSegmentation()
    return [
        segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())
    ]


def _first_point_ras(node: Any, notes: list[str]) -> list[float] | None:
    """World (RAS) position of the first control point, None without a node or points."""
    if node is None:
        return None
    if node.GetNumberOfControlPoints() == 0:
        notes.append(f"{node.GetName()!r} has no control point: AHA reference estimated")
        return None
    point = [0.0, 0.0, 0.0]
    node.GetNthControlPointPositionWorld(0, point)
    return point


def _place_with_volume(scene: Any, volumeNode: Any, nodes: Any) -> None:  # noqa: N803
    """Put the nodes' subject hierarchy items under the volume's study, when it has one."""
    sh = scene.GetSubjectHierarchyNode()
    if sh is None:
        return
    invalid = sh.GetInvalidItemID()
    volume_item = sh.GetItemByDataNode(volumeNode)
    study = sh.GetItemParent(volume_item) if volume_item != invalid else invalid
    study_level = slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMLevelStudy()
    if study == invalid or sh.GetItemLevel(study) != study_level:
        return
    for node in nodes:
        item = sh.GetItemByDataNode(node)
        if item == invalid:
            sh.CreateItem(study, node)
        elif sh.GetItemParent(item) != study:
            sh.SetItemParent(item, study)


def tag_derived(node: slicer.vtkMRMLSegmentationNode, name: str) -> None:
    segmentation = node.GetSegmentation()
    segment = segmentation.GetSegment(segmentation.GetSegmentIdBySegmentName(name))
    if segment is not None:
        segment.SetTag(DERIVED_TAG, "1")


def _derived_segment_names(node: slicer.vtkMRMLSegmentationNode) -> list[str]:
    """Input-named segments this logic derived itself (tagged), e.g. a computed No-reflow."""
    segmentation = node.GetSegmentation()
    out = []
    for index in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(index)
        if segment.HasTag(DERIVED_TAG) and segment.GetName() in INPUT_SEGMENTS:
            out.append(segment.GetName())
    return out
