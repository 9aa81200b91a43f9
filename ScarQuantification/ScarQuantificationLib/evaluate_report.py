"""Write an evaluation: patients.tsv, slices.tsv (+ .schema.tsv), summary.md, summary.html, plots.

Agreement of scar mass and burden: Bland-Altman bias and 95% limits of agreement, a scatter plot,
the Wilcoxon signed-rank test (paired) and Welch's t-test (unequal variances) of predicted vs
reference values (scipy.stats).
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .evaluate import REGIONS, EvaluationResult, patient_values
from .evaluate_io import write_tsv

SUMMARY_METRICS = (
    ("dice", ""),
    ("hausdorff", "mm"),
    ("hd95", "mm"),
    ("area_similarity", ""),
    ("perimeter_similarity", ""),
    ("balanced_accuracy", ""),
    ("brier", ""),
    ("volume_difference", "ml"),
)
AGREEMENT_QUANTITIES = (
    ("pred_mass", "ref_mass", "scar mass", "g"),
    ("pred_burden", "ref_burden", "scar burden", "%"),
)


@dataclass
class Agreement:
    """Predicted vs reference values of one quantity over the cases with both values."""

    quantity: str
    unit: str
    n: int
    pred_mean: float
    ref_mean: float
    bias: float  # mean of pred - ref
    sd: float  # SD of pred - ref
    loa_low: float
    loa_high: float
    wilcoxon_p: float
    welch_p: float


def agreement(pred: np.ndarray, ref: np.ndarray, quantity: str = "", unit: str = "") -> Agreement:
    """Bland-Altman statistics and the two tests; NaN where there are too few cases (< 2)."""
    from scipy import stats

    pred, ref = np.asarray(pred, dtype=float), np.asarray(ref, dtype=float)
    ok = np.isfinite(pred) & np.isfinite(ref)
    pred, ref = pred[ok], ref[ok]
    n = int(ok.sum())
    nan = math.nan
    if n == 0:
        return Agreement(quantity, unit, 0, nan, nan, nan, nan, nan, nan, nan, nan)
    diff = pred - ref
    bias = float(diff.mean())
    sd = float(diff.std(ddof=1)) if n > 1 else nan
    wil = welch = nan
    if n > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tiny samples: scipy warns, the p-value says enough
            wil = float(stats.wilcoxon(pred, ref).pvalue) if np.any(diff != 0) else 1.0
            welch = float(stats.ttest_ind(pred, ref, equal_var=False).pvalue)
    return Agreement(
        quantity, unit, n, float(pred.mean()), float(ref.mean()), bias, sd,
        bias - 1.96 * sd, bias + 1.96 * sd, wil, welch,
    )  # fmt: skip


def summary_rows(result: EvaluationResult) -> list[dict]:
    """Mean, SD and count of each metric per structure and region (NaN values left out)."""
    rows = []
    structures = list(dict.fromkeys(r["structure"] for r in result.patients.rows))
    for region in ("all", *REGIONS):
        for s in structures:
            sel = [r for r in result.patients.rows if r["region"] == region and r["structure"] == s]
            if not sel:
                continue
            row = {"region": region, "structure": s, "cases": len(sel)}
            for metric, _ in SUMMARY_METRICS:
                v = np.array([np.nan if r.get(metric) is None else r[metric] for r in sel], float)
                v = v[np.isfinite(v)]
                mean = float(v.mean()) if len(v) else math.nan
                row[metric] = (mean, float(v.std(ddof=1)) if len(v) > 1 else math.nan, len(v))
            rows.append(row)
    return rows


def _fmt(v: float, digits: int = 3) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{digits}g}"


def _cell(stat: tuple[float, float, int]) -> str:
    mean, sd, n = stat
    if n == 0:
        return "n/a"
    return f"{_fmt(mean)} ± {_fmt(sd)} ({n})" if n > 1 else f"{_fmt(mean)} (1)"


def plot_agreement(pred: np.ndarray, ref: np.ndarray, a: Agreement, path: Path) -> Path:
    """Scatter (pred vs ref, identity line) and Bland-Altman panels in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = np.isfinite(pred) & np.isfinite(ref)
    pred, ref = np.asarray(pred)[ok], np.asarray(ref)[ok]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    lim = [0.0, max(float(np.max(pred, initial=0)), float(np.max(ref, initial=0)), 1e-6) * 1.05]
    ax1.scatter(ref, pred, s=18)
    ax1.plot(lim, lim, "k--", lw=1, label="identity")
    ax1.set(xlim=lim, ylim=lim, xlabel=f"reference ({a.unit})", ylabel=f"predicted ({a.unit})")
    ax1.set_title(f"{a.quantity}: predicted vs reference")
    ax1.legend(loc="upper left")
    mean, diff = (pred + ref) / 2, pred - ref
    ax2.scatter(mean, diff, s=18)
    for y, style, lab in (
        (a.bias, "-", "bias"),
        (a.loa_low, "--", "±1.96 SD"),
        (a.loa_high, "--", None),
    ):
        if math.isfinite(y):
            ax2.axhline(y, color="k", ls=style, lw=1, label=lab)
    ax2.set(
        xlabel=f"mean of predicted and reference ({a.unit})",
        ylabel=f"predicted - reference ({a.unit})",
    )
    ax2.set_title(f"{a.quantity}: Bland-Altman")
    if math.isfinite(a.bias):
        ax2.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _agreements(result: EvaluationResult) -> list[tuple[Agreement, np.ndarray, np.ndarray]]:
    out = []
    if not any(r["structure"] == "Scar" for r in result.patients.rows):
        return out
    for pcol, rcol, quantity, unit in AGREEMENT_QUANTITIES:
        p, r = patient_values(result, pcol), patient_values(result, rcol)
        out.append((agreement(p, r, quantity, unit), p, r))
    return out


def _markdown(result: EvaluationResult, rows: list[dict], ags: list, plots: list[Path]) -> str:
    n_cases = len(result.cases)
    lines = ["# Segmentation evaluation", "", f"Cases evaluated: {n_cases}."]
    lines += [f"- {n}" for n in result.notes]
    orders = sorted(set(result.cases.values()))
    lines += ["", f"Apex-to-base order decided by: {'; '.join(orders) or 'n/a'}.", ""]
    lines += ["## Agreement metrics (mean ± SD (cases with a value))", ""]
    head = ["region", "structure", *[f"{k} ({u})" if u else k for k, u in SUMMARY_METRICS]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["region"], r["structure"], *[_cell(r[k]) for k, _ in SUMMARY_METRICS]]
        lines.append("| " + " | ".join(cells) + " |")
    if ags:
        lines += ["", "## Scar mass and burden: predicted vs reference", ""]
        head = [
            "quantity",
            "n",
            "pred mean",
            "ref mean",
            "bias",
            "SD",
            "95% LoA",
            "Wilcoxon p",
            "Welch p",
        ]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for a, _, _ in ags:
            cells = [
                f"{a.quantity} ({a.unit})", str(a.n), _fmt(a.pred_mean), _fmt(a.ref_mean),
                _fmt(a.bias), _fmt(a.sd), f"{_fmt(a.loa_low)} to {_fmt(a.loa_high)}",
                _fmt(a.wilcoxon_p), _fmt(a.welch_p),
            ]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        lines += [""] + [f"![{p.stem}]({p.name})" for p in plots]
    lines += [
        "",
        "Conventions: empty vs empty = Dice 1, Hausdorff 0; empty vs non-empty = Dice 0, "
        "Hausdorff undefined (left out of the means). See docs/METRICS.md.",
        "Per-case values: patients.tsv; per-slice values: slices.tsv.",
    ]
    return "\n".join(lines) + "\n"


def _html(markdown: str) -> str:
    """Minimal Markdown (headings, tables, images, bullets, paragraphs) -> standalone HTML."""
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Segmentation evaluation</title>",
           "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:"
           "collapse}td,th{border:1px solid #999;padding:3px 6px;font-size:90%}</style></head><body>"]  # fmt: skip
    in_table = False
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1 : -1]
            out.append(f"<p><img src='{html.escape(src)}' alt='{html.escape(src)}'></p>")
        elif line.startswith("- "):
            out.append(f"<ul><li>{html.escape(line[2:])}</li></ul>")
        elif line:
            out.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_report(result: EvaluationResult, out_dir: str | Path, plots: bool = True) -> list[Path]:
    """Write tables, plots, summary.md and summary.html into out_dir; returns the files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [*write_tsv(result.patients, out / "patients.tsv")]
    files += write_tsv(result.slices, out / "slices.tsv")
    ags = _agreements(result)
    pngs = []
    if plots:
        for a, p, r in ags:
            pngs.append(plot_agreement(p, r, a, out / f"{a.quantity.replace(' ', '_')}.png"))
    md = _markdown(result, summary_rows(result), ags, pngs)
    (out / "summary.md").write_text(md)
    (out / "summary.html").write_text(_html(md))
    return [*files, *pngs, out / "summary.md", out / "summary.html"]
