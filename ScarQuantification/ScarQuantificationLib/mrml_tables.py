"""ScarQuantificationLib Table <-> vtkMRMLTableNode with typed columns, units and descriptions.

Missing values (None): double <-> NaN; string -> "" and "" -> None (TSV cannot tell them apart).
VTK integer and bit arrays cannot hold a missing value, so an int/bit column with a None is stored
as text ("" for None, as Table.formatted writes it) and its declared type is kept in the column
property `scarsegType` (written to .schema.tsv), from which table_from_table_node restores it.
"""

from __future__ import annotations

import math
import re
from typing import Any

import slicer
import vtk

from .table import Column, Table

_ARRAY_CLASSES = {
    "string": vtk.vtkStringArray,
    "int": vtk.vtkIntArray,
    "double": vtk.vtkDoubleArray,
    "bit": vtk.vtkBitArray,
}
# Column property holding the declared type of an int/bit column stored as text.
TYPE_PROPERTY = "scarsegType"
# The table schema writer does not escape tabs or line breaks: they would break .schema.tsv.
_BREAKS = re.compile(r"[\t\r\n]+")


def table_node_from_table(
    scene: slicer.vtkMRMLScene,
    table: Table,
    name: str | None = None,
    node: slicer.vtkMRMLTableNode | None = None,
) -> slicer.vtkMRMLTableNode:
    """A table node (named `name` or table.name): one typed column per Column, unit and description.

    `node`: refill this existing node instead (a recompute keeps the node, its ID, its views and
    references); its columns, units and descriptions are all replaced, its name only if given.
    """
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLTableNode", name or table.name)
    else:
        node.SetAndObserveSchema(None)  # drop the units/descriptions of the old columns
        if name:
            node.SetName(name)
    vtk_table = vtk.vtkTable()
    as_text: list[Column] = []
    for column in table.columns:
        if _BREAKS.search(column.name) or not column.name:
            raise ValueError(
                f"table {table.name!r}: column name {column.name!r} is empty or has a tab/line break"
            )
        missing = any(row.get(column.name) is None for row in table.rows)
        if column.type in ("int", "bit") and missing:
            as_text.append(column)
        vtk_table.AddColumn(_column_array(table, column, text=column in as_text))
    node.SetAndObserveTable(vtk_table)
    for column in table.columns:
        if column.unit:
            node.SetColumnUnitLabel(column.name, _one_line(column.unit))
        if column.description:
            node.SetColumnDescription(column.name, _one_line(column.description))
    for column in as_text:
        node.SetColumnProperty(column.name, TYPE_PROPERTY, column.type)
    return node


def table_from_table_node(node: slicer.vtkMRMLTableNode, name: str | None = None) -> Table:
    """The Table held by a table node (types from the arrays or `scarsegType`, units from the schema)."""
    vtk_table = node.GetTable()
    columns: list[Column] = []
    values: list[list[Any]] = []
    for index in range(vtk_table.GetNumberOfColumns()):
        array = vtk_table.GetColumn(index)
        col_name = array.GetName()
        if array.GetNumberOfComponents() != 1:
            raise ValueError(
                f"table {node.GetName()!r}: column {col_name!r} has several components"
            )
        kind = _column_type(array)
        declared = node.GetColumnProperty(col_name, TYPE_PROPERTY)
        if kind == "string" and declared in ("int", "bit"):
            kind = declared
        unit = node.GetColumnUnitLabel(col_name) or ""
        description = node.GetColumnDescription(col_name) or ""
        columns.append(Column(col_name, kind, unit, description))
        values.append(
            [_from_vtk(array.GetValue(r), kind) for r in range(array.GetNumberOfValues())]
        )
    rows = [
        {c.name: v[r] for c, v in zip(columns, values, strict=True)}
        for r in range(vtk_table.GetNumberOfRows())
    ]
    return Table(name=name or node.GetName(), columns=columns, rows=rows)


def tsv_problems(node: slicer.vtkMRMLTableNode) -> list[str]:
    """Reasons the node would not survive a .tsv write + read, empty if none.

    VTK's delimited text reader drops an empty first field of a line, shifting the row by one
    column, so the first column must have no empty cells.
    """
    vtk_table = node.GetTable()
    if vtk_table.GetNumberOfColumns() == 0:
        return []
    first = vtk_table.GetColumn(0)
    empty = [r for r in range(first.GetNumberOfValues()) if str(first.GetValue(r)) == ""]
    if empty:
        return [
            f"first column {first.GetName()!r} is empty in rows {empty[:5]} "
            "(the TSV reader would shift them)"
        ]
    return []


def _column_array(table: Table, column: Column, text: bool) -> vtk.vtkAbstractArray:
    array = vtk.vtkStringArray() if text else _ARRAY_CLASSES[column.type]()
    array.SetName(column.name)
    for row in table.rows:
        value = row.get(column.name)
        if column.type == "string":
            array.InsertNextValue("" if value is None else _one_line(str(value)))
        elif column.type == "double":
            array.InsertNextValue(math.nan if value is None else float(value))
        elif text:
            array.InsertNextValue("" if value is None else str(int(value)))
        else:
            array.InsertNextValue(int(value))
    return array


def _column_type(array: vtk.vtkAbstractArray) -> str:
    if isinstance(array, vtk.vtkStringArray):
        return "string"
    if isinstance(array, vtk.vtkBitArray):
        return "bit"
    if array.GetDataType() in (vtk.VTK_FLOAT, vtk.VTK_DOUBLE):
        return "double"
    if isinstance(array, vtk.vtkDataArray):
        return "int"
    return "string"  # variant or other arrays: keep the text


def _from_vtk(value: Any, kind: str) -> Any:
    if isinstance(value, str) and kind != "string":  # int/bit column stored as text
        return None if value == "" else _from_vtk(int(value), kind)
    if kind == "string":
        return str(value) or None
    if kind == "double":
        return None if math.isnan(value) else float(value)
    if kind == "bit":
        return bool(value)
    return int(value)


def _one_line(text: str) -> str:
    return _BREAKS.sub(" ", text).strip()
