"""One-page PNG report (matplotlib Agg): key measurements, AHA bullseye, scar per slice and,
when the image and masks are given, a montage of slices with segment outlines."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .bullseye import bullseye_from_table  # noqa: E402
from .segments import SEGMENT_COLORS  # noqa: E402
from .table import Table  # noqa: E402

# (label, column) of the measurements table shown in the report, in this order, when present.
KEY_MEASURES = (
    ("Slices with myocardium", "slices_used"),
    ("Myocardium volume", "myocardium_volume_ml"),
    ("Myocardium mass", "myocardium_mass_g"),
    ("LV cavity volume", "lv_cavity_volume_ml"),
    ("Scar volume", "scar_volume_ml"),
    ("Scar mass", "scar_mass_g"),
    ("Scar burden", "scar_burden_pct"),
    ("Core scar burden", "core_scar_burden_pct"),
    ("Gray zone burden", "gray_zone_burden_pct"),
    ("Gray zone mass", "gray_zone_mass_g"),
    ("No-reflow volume", "no_reflow_volume_ml"),
    ("Lesions (3D)", "lesions_3d"),
    ("Lesions (2D)", "lesions_2d"),
    ("Core scar method", "core_method"),
    ("Core scar threshold", "core_threshold"),
)
# Outlines drawn on the montage, in drawing order (later ones on top).
OUTLINED = ("Myocardium", "Blood pool", "Scar", "Gray zone", "Core scar", "No-reflow")
MAX_TILES = 8


def report_png(
    tables: Mapping[str, Table],
    path: str | Path,
    title: str = "Scar quantification",
    notes: Sequence[str] = (),
    image: np.ndarray | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
    spacing: Sequence[float] | None = None,
    apex_to_base: Sequence[int] | None = None,
) -> Path:
    """Write the report PNG; the montage row appears only with image, masks and spacing."""
    montage = image is not None and masks is not None and spacing is not None
    fig = plt.figure(figsize=(13, 12.5 if montage else 8.5), dpi=100, layout="constrained")
    grid = fig.add_gridspec(
        3 if montage else 2, 2, height_ratios=[1.25, 1.0, 1.1][: 3 if montage else 2]
    )
    fig.suptitle(title, fontsize=14, fontweight="bold")
    _measures_panel(fig.add_subplot(grid[0, 0]), tables.get("measurements"), notes)
    _bullseye_panel(fig.add_subplot(grid[0, 1]), tables.get("aha"))
    _slices_panel(fig.add_subplot(grid[1, :]), tables.get("slices"))
    if montage:
        _montage_panel(fig, grid[2, :], image, masks, spacing, apex_to_base)
    fig.text(0.995, 0.002, "Research use only, not a medical device.", ha="right", fontsize=7)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _measures_panel(ax: plt.Axes, table: Table | None, notes: Sequence[str]) -> None:
    ax.axis("off")
    ax.set_title("Measurements", loc="left", fontsize=11)
    if table is None or not table.rows:
        ax.text(0, 1, "no measurements", va="top", transform=ax.transAxes)
        return
    row = table.rows[0]
    names = {c.name for c in table.columns}
    lines = []
    for label, column in KEY_MEASURES:
        if column not in names:
            continue
        unit = table.column(column).unit
        text = table.formatted(row, column) or "n/a"
        if table.column(column).type == "double" and text != "n/a":
            text = f"{float(row[column]):.1f}"
        unit = "" if unit in ("", "intensity") else f" {unit}"
        lines.append(f"{label:<24}{text}{unit if text != 'n/a' else ''}")
    y = 0.95
    for line in lines:
        ax.text(0.0, y, line, family="monospace", fontsize=9.5, transform=ax.transAxes, va="top")
        y -= 0.058
    for note in notes[:4]:
        ax.text(0.0, y, f"Note: {note}", fontsize=7.5, transform=ax.transAxes, va="top", wrap=True)
        y -= 0.05


def _bullseye_panel(ax: plt.Axes, table: Table | None) -> None:
    ax.axis("off")
    if table is None or not table.rows:
        ax.set_title("AHA segments", fontsize=11)
        ax.text(0.5, 0.5, "no scar segment: no AHA table", ha="center", transform=ax.transAxes)
        return
    # bullseye.py draws its own figure: render it to a file and show the picture.
    with tempfile.TemporaryDirectory(prefix="scarquant-report-") as folder:
        png = bullseye_from_table(
            table, "scar_pct", Path(folder) / "bullseye.png", title="Scar per AHA segment", vmin=0
        )
        ax.imshow(plt.imread(png))


def _slices_panel(ax: plt.Axes, table: Table | None) -> None:
    ax.set_title("Scar per slice, apex to base", loc="left", fontsize=11)
    names = set() if table is None else {c.name for c in table.columns}
    if table is None or "scar_pct" not in names:
        ax.axis("off")
        ax.text(0.5, 0.5, "no scar segment: no per-slice scar", ha="center", transform=ax.transAxes)
        return
    rows = sorted(
        (r for r in table.rows if r.get("scar_pct") is not None),
        key=lambda r: r["apex_to_base_rank"],
    )
    x = np.arange(len(rows))
    scar = [r["scar_pct"] for r in rows]
    ax.bar(x, scar, width=0.6, color=(0.85, 0.33, 0.10), label="scar (% of slice myocardium)")
    if "transmurality_mean" in names:
        t = [
            np.nan if r.get("transmurality_mean") is None else 100 * r["transmurality_mean"]
            for r in rows
        ]
        ax.plot(x, t, "o-", color=(0.20, 0.35, 0.80), label="mean transmurality (%)")
    labels = [f"k={r['slice_index']}\n{r.get('region') or ''}" for r in rows]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 120)  # room for the legend above 100 %
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("%")
    ax.set_xlabel("slice (apex on the left)")
    ax.legend(loc="upper center", ncol=2, fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)


def _montage_panel(
    fig: plt.Figure,
    cell: object,
    image: np.ndarray,
    masks: Mapping[str, np.ndarray],
    spacing: Sequence[float],
    apex_to_base: Sequence[int] | None,
) -> None:
    myo = np.asarray(masks.get("Myocardium", np.zeros(image.shape, bool)), dtype=bool)
    order = list(apex_to_base) if apex_to_base is not None else list(range(image.shape[0]))
    covered = [k for k in order if myo[k].any()] or order
    if len(covered) > MAX_TILES:
        covered = [
            covered[i] for i in np.linspace(0, len(covered) - 1, MAX_TILES).round().astype(int)
        ]
    rows, cols = _crop(myo, image.shape[1:])
    sub = cell.subgridspec(1, len(covered), wspace=0.03)
    aspect = float(spacing[1]) / float(spacing[0])  # row (j) over column (i) spacing
    for n, k in enumerate(covered):
        ax = fig.add_subplot(sub[0, n])
        tile = image[k, rows, cols].astype(float)
        lo, hi = np.percentile(tile, (1, 99)) if tile.size else (0.0, 1.0)
        ax.imshow(tile, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, aspect=aspect)
        for name in OUTLINED:
            if name in masks and np.asarray(masks[name])[k, rows, cols].any():
                ax.contour(
                    np.asarray(masks[name])[k, rows, cols].astype(float),
                    levels=[0.5],
                    colors=[SEGMENT_COLORS[name]],
                    linewidths=1.2,
                )
        ax.set_title(f"k={k}", fontsize=8)
        ax.axis("off")
    handles = [
        Line2D([0], [0], color=SEGMENT_COLORS[n], lw=2, label=n)
        for n in OUTLINED
        if n in masks and np.asarray(masks[n]).any()
    ]
    if handles:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=len(handles),
            fontsize=8,
            frameon=False,
        )


def _crop(mask: np.ndarray, shape: tuple[int, int]) -> tuple[slice, slice]:
    """Square-ish window around the mask's in-plane extent with a 40 % margin (whole image if empty)."""
    if not mask.any():
        return slice(0, shape[0]), slice(0, shape[1])
    j = np.flatnonzero(mask.any(axis=(0, 2)))
    i = np.flatnonzero(mask.any(axis=(0, 1)))
    half = 0.7 * max(j[-1] - j[0] + 1, i[-1] - i[0] + 1)
    cj, ci = 0.5 * (j[0] + j[-1]), 0.5 * (i[0] + i[-1])
    j0, j1 = max(0, int(cj - half)), min(shape[0], int(np.ceil(cj + half)) + 1)
    i0, i1 = max(0, int(ci - half)), min(shape[1], int(np.ceil(ci + half)) + 1)
    return slice(j0, j1), slice(i0, i1)
