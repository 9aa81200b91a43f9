"""A typed table with units: the neutral form of every output table (TSV, MRML table node)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# Column types use the names of Slicer's table schema (vtkMRMLTableNode "type").
COLUMN_TYPES = ("string", "int", "double", "bit")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # one of COLUMN_TYPES
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"column {self.name!r}: type {self.type!r} not in {COLUMN_TYPES}")


@dataclass
class Table:
    """Rows are dicts keyed by column name; missing values are None (written as empty)."""

    name: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def add_row(self, **values: Any) -> None:
        unknown = set(values) - {c.name for c in self.columns}
        if unknown:
            raise KeyError(f"table {self.name!r} has no columns {sorted(unknown)}")
        self.rows.append(values)

    def values(self, name: str) -> list[Any]:
        self.column(name)
        return [r.get(name) for r in self.rows]

    def formatted(self, row: dict[str, Any], name: str) -> str:
        """Text form of one cell, as written to TSV."""
        v = row.get(name)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        c = self.column(name)
        if c.type == "double":
            return f"{float(v):.6g}"
        if c.type in ("int", "bit"):
            return str(int(v))
        return str(v)
