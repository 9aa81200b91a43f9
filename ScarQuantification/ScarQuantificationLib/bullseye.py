"""AHA bullseye plot (PNG, matplotlib Agg): one value per segment, with a colour bar.

Standard layout as seen from the apex: basal ring outside, apex cap (17) in the centre, anterior at
the top, septum on the left. Segments without a value are drawn grey and labelled "n/a". The two
RV insertion points (the borders of segments 1|2 and 3|4, where aha.py puts them) are marked on the
rim, and the sides are named. From an AHA table, the orientation's source is written under the
picture, and a title that warns when the orientation is not confident (aha.py's
`orientation_confident` column is 0: the segments may be turned).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .table import Table

MISSING_COLOUR = (0.85, 0.85, 0.85)


def segment_wedge(segment: int) -> tuple[float, float, float, float]:
    """(inner radius, outer radius, start angle, end angle) in plot units / degrees
    (counterclockwise from the +x axis) of an AHA segment."""
    if segment == 17:
        return 0.0, 1.0, 0.0, 360.0
    if 13 <= segment <= 16:
        centre = 90.0 + 90.0 * (segment - 13)
        return 1.0, 2.0, centre - 45.0, centre + 45.0
    if 1 <= segment <= 12:
        ring = 3.0 if segment <= 6 else 2.0
        centre = 90.0 + 60.0 * ((segment - 1) % 6)
        return ring, ring + 1.0, centre - 30.0, centre + 30.0
    raise ValueError(f"AHA segment {segment} not in 1..17")


def bullseye_png(
    values: Mapping[int, float | None],
    path: str | Path,
    title: str = "",
    label: str = "",
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "YlOrRd",
    decimals: int = 0,
    orientation: str = "",
) -> Path:
    """Write the bullseye of `values` (segment -> value; 17 drawn only when present) to `path`.
    `orientation`: where the AHA orientation came from, written under the picture."""
    # imported here: bullseye_arguments needs no matplotlib (outputs.py draws in a child process)
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt
    from matplotlib.patches import Wedge

    finite = [float(v) for v in values.values() if v is not None and np.isfinite(v)]
    lo = vmin if vmin is not None else (min(finite) if finite else 0.0)
    hi = vmax if vmax is not None else (max(finite) if finite else 1.0)
    if hi <= lo:
        hi = lo + 1.0
    norm = matplotlib.colors.Normalize(lo, hi)
    colours = matplotlib.colormaps[cmap]
    fig, ax = plt.subplots(figsize=(5.2, 4.4), dpi=100)
    segments = [s for s in range(1, 18) if s != 17 or 17 in values]
    for s in segments:
        r0, r1, t0, t1 = segment_wedge(s)
        v = values.get(s)
        ok = v is not None and np.isfinite(v)
        face = colours(norm(v)) if ok else MISSING_COLOUR
        ax.add_patch(
            Wedge((0, 0), r1, t0, t1, width=r1 - r0, facecolor=face, edgecolor="white", lw=1.5)
        )
        rm, tm = (0.0, 0.0) if s == 17 else (0.5 * (r0 + r1), np.radians(0.5 * (t0 + t1)))
        text = f"{v:.{decimals}f}" if ok else "n/a"
        dark = ok and sum(face[:3]) < 1.5
        ax.text(
            rm * np.cos(tm),
            rm * np.sin(tm),
            f"{s}\n{text}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if dark else "black",
        )
    ax.set_xlim(-4.2, 4.2)
    ax.set_ylim(-4.2, 4.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.text(0, 4.1, "anterior", ha="center", va="bottom", fontsize=8)
    ax.text(-4.1, 0, "septal (RV side)", ha="right", va="center", fontsize=8, rotation=90)
    ax.text(4.1, 0, "lateral", ha="left", va="center", fontsize=8, rotation=270)
    ax.text(0, -4.1, "inferior", ha="center", va="top", fontsize=8)
    for angle, mark in ((120.0, "anterior\nRV insertion"), (240.0, "inferior\nRV insertion")):
        t = np.radians(angle)
        ax.plot(4.05 * np.cos(t), 4.05 * np.sin(t), marker="v" if angle < 180 else "^",
                color="tab:blue", markersize=7)  # fmt: skip
        ax.text(4.3 * np.cos(t), 4.3 * np.sin(t), mark, ha="right", va="center", fontsize=6,
                color="tab:blue")  # fmt: skip
    if title:
        ax.set_title(title, fontsize=10, pad=16, color="black" if "NOT CONFIDENT" not in title
                     else "darkred")  # fmt: skip
    if orientation:
        fig.text(0.02, 0.01, orientation, fontsize=5.5, ha="left", va="bottom", wrap=True)
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=colours), ax=ax, fraction=0.046)
    bar.set_label(label)
    path = Path(path)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


UNCERTAIN = "AHA orientation NOT CONFIDENT: check the segments (caption says why)"


def bullseye_from_table(table: Table, column: str, path: str | Path, **kwargs: object) -> Path:
    """Bullseye of one column of the AHA table; label defaults to the column name and unit. The
    table's orientation columns (aha.py) give the caption and, when not confident, the warning
    in the title."""
    values, kwargs = bullseye_arguments(table, column, **kwargs)
    return bullseye_png(values, path, **kwargs)


def bullseye_arguments(
    table: Table, column: str, **kwargs: object
) -> tuple[dict[int, float | None], dict[str, object]]:
    """What bullseye_from_table passes to bullseye_png: (segment -> value, keyword arguments)."""
    c = table.column(column)
    values = dict(zip(table.values("segment"), table.values(column), strict=True))
    kwargs.setdefault("label", f"{column} ({c.unit})" if c.unit else column)
    names = {col.name for col in table.columns}
    if table.rows and "angle_reference" in names:
        kwargs.setdefault("orientation", f"orientation: {table.rows[0]['angle_reference']}")
    if table.rows and "orientation_confident" in names:
        confident = table.rows[0].get("orientation_confident")
        if confident is not None and not int(confident):
            title = str(kwargs.get("title") or "")
            kwargs["title"] = f"{title}\n{UNCERTAIN}" if title else UNCERTAIN
    return values, kwargs
