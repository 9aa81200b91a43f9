"""Table <-> table node: column types, units, descriptions, missing values, and .tsv + schema."""

from __future__ import annotations

import csv
import math

import pytest
import slicer
import vtk
from ScarQuantificationLib.mrml_tables import table_from_table_node, table_node_from_table
from ScarQuantificationLib.table import Column, Table
from ScarSegmentationLib.mrml_io import StorageError, write_table


def _table() -> Table:
    table = Table(
        "slices",
        [
            Column("Slice", "int", "", "slice index k"),
            Column("Position", "string", "", "apex, mid or base"),
            Column("Scar area", "double", "mm2", "enhanced area\tin the slice"),
            Column("Has scar", "bit", "", "any scar"),
        ],
    )
    table.add_row(Slice=0, Position="apex", **{"Scar area": 12.5, "Has scar": True})
    table.add_row(Slice=1, Position=None, **{"Scar area": None, "Has scar": False})
    table.add_row(Slice=2, Position="base", **{"Scar area": 1234.56789, "Has scar": True})
    return table


def _assert_same(back: Table, table: Table, rel: float = 0.0) -> None:
    assert [(c.name, c.type, c.unit) for c in back.columns] == [
        (c.name, c.type, c.unit) for c in table.columns
    ]
    # Tabs cannot live in the one-line schema: they become spaces.
    assert back.column("Scar area").description == "enhanced area in the slice"
    assert back.column("Slice").description == "slice index k"
    assert len(back.rows) == len(table.rows)
    for got, want in zip(back.rows, table.rows, strict=True):
        assert got["Slice"] == want["Slice"] and type(got["Slice"]) is int
        assert got["Position"] == want["Position"]
        assert got["Has scar"] is want["Has scar"]
        if want["Scar area"] is None:
            assert got["Scar area"] is None
        else:
            assert got["Scar area"] == pytest.approx(want["Scar area"], rel=rel)


def test_typed_columns_and_units_in_memory(scene):
    table = _table()
    node = table_node_from_table(scene, table)
    assert node.GetName() == "slices"
    classes = [node.GetTable().GetColumn(n).GetClassName() for n in range(4)]
    assert classes[1:] == ["vtkStringArray", "vtkDoubleArray", "vtkBitArray"]
    assert node.GetColumnType("Slice") == vtk.VTK_INT
    assert node.GetColumnUnitLabel("Scar area") == "mm2"
    assert math.isnan(node.GetTable().GetColumn(2).GetValue(1))
    _assert_same(table_from_table_node(node), table)
    assert table_node_from_table(scene, table, name="P100 slices").GetName() == "P100 slices"


def test_refilling_a_node_replaces_columns_units_and_descriptions(scene):
    node = table_node_from_table(scene, _table(), name="results")
    other = Table("other", [Column("Scar area", "string"), Column("Count", "int", "", "n")])
    other.add_row(**{"Scar area": "large", "Count": 3})
    same = table_node_from_table(scene, other, node=node)
    assert same is node and node.GetName() == "results"
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == 1
    back = table_from_table_node(node)
    assert [(c.name, c.type, c.unit, c.description) for c in back.columns] == [
        ("Scar area", "string", "", ""),
        ("Count", "int", "", "n"),
    ]
    assert back.rows == [{"Scar area": "large", "Count": 3}]
    assert node.GetColumnProperty("Slice", "description") == ""  # old column forgotten


def test_tsv_and_schema_round_trip_with_a_fresh_storage_node(scene, tmp_path):
    table = _table()
    path = write_table(table_node_from_table(scene, table), tmp_path / "slices.tsv")
    schema = tmp_path / "slices.schema.tsv"
    assert path.is_file() and schema.is_file()
    with open(schema, newline="") as f:
        rows = {r["columnName"]: r for r in csv.DictReader(f, delimiter="\t")}
    assert {name: r["type"] for name, r in rows.items()} == {
        "Slice": "int",
        "Position": "string",
        "Scar area": "double",
        "Has scar": "bit",
    }
    assert rows["Scar area"]["unitLabel"] == "mm2"
    with open(path, newline="") as f:
        header = next(csv.reader(f, delimiter="\t"))
    assert header == ["Slice", "Position", "Scar area", "Has scar"]

    fresh = slicer.vtkMRMLScene()
    node = fresh.AddNewNodeByClass("vtkMRMLTableNode")
    storage = fresh.AddNewNodeByClass("vtkMRMLTableStorageNode")
    storage.SetFileName(str(path))
    assert storage.ReadData(node)
    # The storage node writes doubles with 6 significant digits.
    _assert_same(table_from_table_node(node, "slices"), table, rel=1e-5)


def test_missing_int_and_bit_values_survive_as_empty_cells(scene, tmp_path):
    """VTK int/bit arrays cannot hold None: such columns go out as text and come back typed."""
    table = Table(
        "lesions",
        [
            Column("level", "string"),
            Column("parent_3d", "int", "", "2D rows only"),
            Column("flag", "bit"),
            Column("pixels", "int"),
        ],
    )
    table.add_row(level="3D", parent_3d=None, flag=None, pixels=1234567)
    table.add_row(level="2D", parent_3d=1, flag=True, pixels=12)
    node = table_node_from_table(scene, table)
    assert node.GetTable().GetColumn(3).GetClassName() == "vtkIntArray"  # no None: stays int
    assert table_from_table_node(node).rows == table.rows

    path = write_table(node, tmp_path / "lesions.tsv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert rows[0]["parent_3d"] == "" and rows[1]["parent_3d"] == "1"  # as Table.formatted
    fresh = slicer.vtkMRMLScene()
    loaded = fresh.AddNewNodeByClass("vtkMRMLTableNode")
    storage = fresh.AddNewNodeByClass("vtkMRMLTableStorageNode")
    storage.SetFileName(str(path))
    assert storage.ReadData(loaded)
    back = table_from_table_node(loaded)
    assert [(c.name, c.type) for c in back.columns] == [(c.name, c.type) for c in table.columns]
    assert back.rows == table.rows


def test_empty_first_column_is_refused_before_writing(scene, tmp_path):
    """VTK's reader drops an empty first field and shifts the row: refuse rather than corrupt."""
    table = Table("t", [Column("Name", "string"), Column("Value", "double")])
    table.add_row(Name="a", Value=1.0)
    table.add_row(Name=None, Value=2.0)
    node = table_node_from_table(scene, table)
    with pytest.raises(StorageError, match="first column"):
        write_table(node, tmp_path / "t.tsv")
    assert not (tmp_path / "t.tsv").exists()
