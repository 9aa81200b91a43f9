"""Plot chart nodes for the quantification tables: AHA segment scar and scar per slice.

Each chart is found again through a node reference from the table it plots, so a recompute (which
refills the same table nodes) updates the same chart and series nodes instead of adding new ones.
"""

from __future__ import annotations

from collections.abc import Mapping

import slicer

from .mrml_tables import table_from_table_node, table_node_from_table
from .table import Column, Table

# Node reference roles from a result table node to what is derived from it.
CHART_ROLE = "ScarQuantificationChart"
CHART_DATA_ROLE = "ScarQuantificationChartData"
# Attribute naming a series within its chart (reuse on recompute).
SERIES_ATTRIBUTE = "ScarQuantification.Series"

SCAR_COLOUR = (0.85, 0.33, 0.10)
TRANSMURALITY_COLOUR = (0.20, 0.35, 0.80)

SLICE_CHART_COLUMNS = [
    Column("apex_to_base_rank", "int", "", "rank of the slice from apex (0) to base"),
    Column("slice_index", "int", "", "slice index k in the input volume"),
    Column("scar_pct", "double", "%", "scar area / myocardium area in the slice"),
    Column("transmurality_pct", "double", "%", "mean chord transmurality of the slice, in percent"),
]


def create_plots(
    tables: Mapping[str, slicer.vtkMRMLTableNode],
) -> dict[str, slicer.vtkMRMLPlotChartNode]:
    """Charts for the tables present: "bullseye" (from "aha") and "slices" (from "slices")."""
    charts: dict[str, slicer.vtkMRMLPlotChartNode] = {}
    aha = tables.get("aha")
    if aha is not None and _has_columns(aha, ("segment", "scar_pct")):
        chart = _chart(aha, f"{aha.GetName()} chart")
        chart.SetTitle("Scar per AHA segment")
        chart.SetXAxisTitle("AHA segment")
        chart.SetYAxisTitle("scar (%)")
        chart.LegendVisibilityOff()
        _series(chart, "scar_pct", aha, "segment", "scar_pct", "bar", SCAR_COLOUR, label="name")
        charts["bullseye"] = chart
    slices = tables.get("slices")
    if slices is not None and _has_columns(slices, ("apex_to_base_rank", "scar_pct")):
        data = _slice_chart_data(slices)
        chart = _chart(slices, f"{slices.GetName()} chart")
        chart.SetTitle("Scar per slice (apex to base)")
        chart.SetXAxisTitle("slice rank from apex (0) to base")
        chart.SetYAxisTitle("%")
        _series(chart, "scar_pct", data, "apex_to_base_rank", "scar_pct", "line", SCAR_COLOUR)
        _series(
            chart,
            "transmurality_pct",
            data,
            "apex_to_base_rank",
            "transmurality_pct",
            "line",
            TRANSMURALITY_COLOUR,
        )
        charts["slices"] = chart
    return charts


def remove_plots(table_node: slicer.vtkMRMLTableNode) -> None:
    """Remove the chart, its series and chart data derived from a table node (stale results)."""
    scene = table_node.GetScene()
    chart = table_node.GetNodeReference(CHART_ROLE)
    if chart is not None:
        for index in reversed(range(chart.GetNumberOfPlotSeriesNodes())):
            scene.RemoveNode(chart.GetNthPlotSeriesNode(index))
        scene.RemoveNode(chart)
    data = table_node.GetNodeReference(CHART_DATA_ROLE)
    if data is not None:
        scene.RemoveNode(data)


def _has_columns(node: slicer.vtkMRMLTableNode, names: tuple[str, ...]) -> bool:
    return all(node.GetTable().GetColumnByName(n) is not None for n in names)


def _chart(source: slicer.vtkMRMLTableNode, name: str) -> slicer.vtkMRMLPlotChartNode:
    chart = source.GetNodeReference(CHART_ROLE)
    if chart is None:
        chart = source.GetScene().AddNewNodeByClass("vtkMRMLPlotChartNode", name)
        source.SetNodeReferenceID(CHART_ROLE, chart.GetID())
    else:
        chart.SetName(name)
    return chart


def _series(
    chart: slicer.vtkMRMLPlotChartNode,
    key: str,
    table: slicer.vtkMRMLTableNode,
    x: str,
    y: str,
    kind: str,
    colour: tuple[float, float, float],
    label: str | None = None,
) -> slicer.vtkMRMLPlotSeriesNode:
    series = None
    for index in range(chart.GetNumberOfPlotSeriesNodes()):
        candidate = chart.GetNthPlotSeriesNode(index)
        if candidate is not None and candidate.GetAttribute(SERIES_ATTRIBUTE) == key:
            series = candidate
    if series is None:
        series = chart.GetScene().AddNewNodeByClass(
            "vtkMRMLPlotSeriesNode", f"{chart.GetName()} {key}"
        )
        series.SetAttribute(SERIES_ATTRIBUTE, key)
        chart.AddAndObservePlotSeriesNodeID(series.GetID())
    series.SetAndObserveTableNodeID(table.GetID())
    series.SetXColumnName(x)
    series.SetYColumnName(y)
    if label:
        series.SetLabelColumnName(label)
    if kind == "bar":
        series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeBar)
    else:
        series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
        series.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleCircle)
    series.SetColor(*colour)
    return series


def _slice_chart_data(slices_node: slicer.vtkMRMLTableNode) -> slicer.vtkMRMLTableNode:
    """Slices with myocardium, sorted apex -> base (a line plot joins rows in table order), with
    transmurality in % so both series share one axis."""
    slices = table_from_table_node(slices_node)
    has_transmurality = any(c.name == "transmurality_mean" for c in slices.columns)
    data = Table(f"{slices_node.GetName()} chart data", list(SLICE_CHART_COLUMNS))
    for row in sorted(slices.rows, key=lambda r: r["apex_to_base_rank"]):
        if row.get("scar_pct") is None:  # no myocardium in this slice
            continue
        t = row.get("transmurality_mean") if has_transmurality else None
        data.add_row(
            apex_to_base_rank=row["apex_to_base_rank"],
            slice_index=row["slice_index"],
            scar_pct=row["scar_pct"],
            transmurality_pct=None if t is None else 100.0 * t,
        )
    node = slices_node.GetNodeReference(CHART_DATA_ROLE)
    node = table_node_from_table(slices_node.GetScene(), data, name=data.name, node=node)
    node.SetHideFromEditors(True)  # plumbing of the chart, not a result table
    slices_node.SetNodeReferenceID(CHART_DATA_ROLE, node.GetID())
    return node
