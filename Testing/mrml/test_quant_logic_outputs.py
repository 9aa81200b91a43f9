"""ScarQuantificationHeadlessLogic outputs: plot chart nodes, CSV export, PNG report."""

from __future__ import annotations

import csv
import math

import pytest
import slicer
from quant_ring_scene import build, column
from ScarQuantificationLib.mrml_logic import ScarQuantificationHeadlessLogic


@pytest.fixture
def computed(scene):
    ph = build(scene)
    logic = ScarQuantificationHeadlessLogic(scene)
    return ph, logic, logic.compute(ph.segmentation, ph.volume)


def _series(chart) -> dict[str, object]:
    return {
        chart.GetNthPlotSeriesNode(n).GetYColumnName(): chart.GetNthPlotSeriesNode(n)
        for n in range(chart.GetNumberOfPlotSeriesNodes())
    }


def test_plots_show_aha_and_per_slice_scar_and_are_reused(computed):
    ph, logic, tables = computed
    charts = logic.createPlots(tables)
    assert set(charts) == {"bullseye", "slices"}
    assert all(c.IsA("vtkMRMLPlotChartNode") for c in charts.values())

    bar = _series(charts["bullseye"])["scar_pct"]
    assert bar.GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeBar
    assert bar.GetTableNode() is tables["aha"] and bar.GetXColumnName() == "segment"

    lines = _series(charts["slices"])
    assert set(lines) == {"scar_pct", "transmurality_pct"}
    data = lines["scar_pct"].GetTableNode()
    assert lines["transmurality_pct"].GetTableNode() is data
    ranks = column(data, "apex_to_base_rank")
    assert ranks == sorted(ranks)  # a line joins rows in order: apex to base
    slices = tables["slices"]
    by_index = dict(zip(column(slices, "slice_index"), range(6), strict=False))
    for k, scar, t in zip(
        column(data, "slice_index"),
        column(data, "scar_pct"),
        column(data, "transmurality_pct"),
        strict=True,
    ):
        row = by_index[k]
        assert scar == pytest.approx(column(slices, "scar_pct")[row])
        assert t == pytest.approx(100 * column(slices, "transmurality_mean")[row])
    assert 0 not in column(data, "slice_index")  # slice 0 has no myocardium
    assert len(ranks) == 5

    sh = ph.volume.GetScene().GetSubjectHierarchyNode()
    assert sh.GetItemParent(sh.GetItemByDataNode(charts["slices"])) == ph.study_item

    ids = {key: c.GetID() for key, c in charts.items()}
    counts = [
        ph.volume.GetScene().GetNumberOfNodesByClass(c)
        for c in ("vtkMRMLPlotChartNode", "vtkMRMLPlotSeriesNode", "vtkMRMLTableNode")
    ]
    again = logic.createPlots(logic.compute(ph.segmentation, ph.volume))
    assert {key: c.GetID() for key, c in again.items()} == ids
    assert [
        ph.volume.GetScene().GetNumberOfNodesByClass(c)
        for c in ("vtkMRMLPlotChartNode", "vtkMRMLPlotSeriesNode", "vtkMRMLTableNode")
    ] == counts


def test_export_writes_csv_that_reloads_with_the_same_values(computed, tmp_path):
    _, logic, tables = computed
    written = logic.export(tables, tmp_path / "out")
    assert sorted(p.rsplit("/", 1)[1] for p in written) == sorted(
        [f"{k}.csv" for k in tables] + [f"{k}.schema.csv" for k in tables]
    )
    for key, node in tables.items():
        with open(tmp_path / "out" / f"{key}.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        vtk_table = node.GetTable()
        names = [vtk_table.GetColumnName(c) for c in range(vtk_table.GetNumberOfColumns())]
        assert rows[0] == names
        assert len(rows) - 1 == vtk_table.GetNumberOfRows()
        for c, name in enumerate(names):
            for r, cell in enumerate(row[c] for row in rows[1:]):
                value = vtk_table.GetColumn(c).GetValue(r)
                if isinstance(value, float):
                    assert (cell == "" and math.isnan(value)) or float(cell) == value, (key, name)
                elif isinstance(value, str):
                    assert cell == value, (key, name)
                else:
                    assert int(cell) == int(value), (key, name)
        with open(tmp_path / "out" / f"{key}.schema.csv", newline="", encoding="utf-8") as f:
            schema = list(csv.DictReader(f))
        assert [s["columnName"] for s in schema] == names
        for s in schema:
            assert s["unit"] == (node.GetColumnUnitLabel(s["columnName"]) or ""), s
    measurements = list(csv.DictReader(open(tmp_path / "out" / "measurements.csv")))
    assert float(measurements[0]["scar_burden_pct"]) == pytest.approx(25.0, abs=2.0)


def _png_size(path) -> tuple[int, int]:
    data = open(path, "rb").read(24)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_report_png_with_and_without_the_montage(computed, tmp_path):
    ph, logic, tables = computed
    full = logic.saveReport(
        tables, tmp_path / "report.png", segmentationNode=ph.segmentation, volumeNode=ph.volume
    )
    plain = logic.saveReport(tables, tmp_path / "plain")
    assert plain.endswith("plain.png")
    (w_full, h_full), (_, h_plain) = _png_size(full), _png_size(plain)
    assert w_full >= 1000 and h_full > h_plain >= 800  # the montage adds a row
    assert (tmp_path / "report.png").stat().st_size > 60_000
