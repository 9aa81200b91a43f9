"""Tables as CSV for spreadsheets: `<name>.csv` (values) and `<name>.schema.csv` (units).

`<name>.csv`: one header line of column names, then one line per row. Doubles are written with
Python's shortest exact representation (they read back bit for bit), ints as integers, bits as
0/1, missing values as empty cells. Units stay out of the header so that column names are the
same as in the TSV outputs and Slicer tables; they are in `<name>.schema.csv`, one line per column:
columnName, type, unit, description (the layout of Slicer's .schema.tsv).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from .table import Column, Table

SCHEMA_HEADER = ("columnName", "type", "unit", "description")


def csv_cell(value: Any, column: Column) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column.type == "double":
        return repr(float(value))
    if column.type in ("int", "bit"):
        return str(int(value))
    return str(value)


def write_csv(table: Table, folder: str | Path, name: str | None = None) -> list[Path]:
    """Write `<name>.csv` and `<name>.schema.csv` (name defaults to table.name); returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = name or table.name
    values_path, schema_path = folder / f"{stem}.csv", folder / f"{stem}.schema.csv"
    with values_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([c.name for c in table.columns])
        for row in table.rows:
            writer.writerow([csv_cell(row.get(c.name), c) for c in table.columns])
    with schema_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(SCHEMA_HEADER)
        for c in table.columns:
            writer.writerow([c.name, c.type, c.unit, c.description])
    return [values_path, schema_path]
