"""Cross-validated XGBoost classifier on a features CSV, explained with xgboost's own SHAP values.

Binary labels only (e.g. acute vs chronic). Stratified k-fold cross-validation with a seeded
shuffle; each sample's per-feature contributions come from the fold model that did not see it
(out-of-fold), from `Booster.predict(..., pred_contribs=True)` (exact TreeSHAP in xgboost: the
contributions plus the bias column sum to the margin, the log-odds). The `shap` package is not
used: it depends on a PyPI package named `slicer` that would shadow 3D Slicer's namespace.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEFAULT_PARAMS: dict[str, object] = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "max_depth": 3,
    "eta": 0.1,
    "subsample": 1.0,
    "min_child_weight": 1.0,
    "nthread": 1,
}


@dataclass
class Dataset:
    X: np.ndarray  # (n, f) float, NaN = missing
    y: np.ndarray  # (n,) 0/1
    features: list[str]
    ids: list[str]
    classes: tuple[str, str]  # label text of class 0 and class 1 (positive)
    ignored: list[str] = field(default_factory=list)  # non-numeric columns left out


@dataclass
class CVResult:
    folds: list[dict[str, float]]  # fold, n_train, n_test, auc, accuracy
    margin: np.ndarray  # out-of-fold log-odds
    probability: np.ndarray  # out-of-fold P(positive)
    contributions: np.ndarray  # (n, f) out-of-fold per-feature contributions
    bias: np.ndarray  # (n,) bias column of pred_contribs
    fold_of: np.ndarray  # (n,) fold index of each sample
    auc: float = math.nan  # pooled out-of-fold AUC
    accuracy: float = math.nan

    def mean_abs_contribution(self) -> np.ndarray:
        return np.abs(self.contributions).mean(axis=0)


def _float(text: str) -> float:
    text = text.strip()
    if text == "" or text.lower() in ("nan", "na", "n/a", "none"):
        return math.nan
    return float(text)


def load_dataset(
    path: str | Path,
    label: str,
    id_column: str | None = None,
    positive: str | None = None,
    exclude: tuple[str, ...] = (),
) -> Dataset:
    """Read a CSV (or TSV, by extension): numeric columns become features, the label column two
    classes (positive = `positive`, else the second in sorted order). Rows without a label are
    dropped."""
    path = Path(path)
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter=delimiter))
    if not rows:
        raise ValueError(f"{path}: no data rows")
    columns = list(rows[0])
    if label not in columns:
        raise ValueError(f"{path}: no column {label!r} (columns: {', '.join(columns)})")
    rows = [r for r in rows if (r[label] or "").strip()]
    values = sorted({r[label].strip() for r in rows})
    if len(values) != 2:
        raise ValueError(f"column {label!r} must hold exactly 2 classes, found {values}")
    if positive is not None and positive not in values:
        raise ValueError(f"positive class {positive!r} not among {values}")
    pos = positive if positive is not None else values[1]
    neg = values[0] if values[1] == pos else values[1]
    id_column = id_column or columns[0]
    features, ignored = [], []
    for c in columns:
        if c in (label, id_column) or c in exclude:
            continue
        try:
            [_float(r[c] or "") for r in rows]
            features.append(c)
        except ValueError:
            ignored.append(c)
    if not features:
        raise ValueError(f"{path}: no numeric feature columns")
    X = np.array([[_float(r[c] or "") for c in features] for r in rows], dtype=float)
    y = np.array([1 if r[label].strip() == pos else 0 for r in rows], dtype=int)
    ids = [str(r.get(id_column, i)) for i, r in enumerate(rows)]
    return Dataset(X, y, features, ids, (neg, pos), ignored)


def stratified_folds(y: np.ndarray, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold index per sample: each class shuffled (seeded) and dealt round-robin over the folds."""
    y = np.asarray(y)
    counts = {c: int((y == c).sum()) for c in np.unique(y)}
    if n_folds < 2 or min(counts.values()) < n_folds:
        raise ValueError(
            f"{n_folds}-fold cross-validation needs >= {n_folds} samples per class, have {counts}"
        )
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=int)
    offset = 0
    for c in sorted(counts):
        idx = rng.permutation(np.flatnonzero(y == c))
        fold[idx] = (np.arange(len(idx)) + offset) % n_folds
        offset += len(idx)  # continue dealing where the last class stopped: even fold sizes
    return fold


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve = Mann-Whitney U / (n1 n0), ties counted half; NaN if one class."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def cross_validate(
    data: Dataset,
    n_folds: int = 5,
    seed: int = 0,
    rounds: int = 100,
    params: dict[str, object] | None = None,
) -> CVResult:
    """Stratified k-fold CV; per fold AUC and accuracy (threshold 0.5) on the held-out samples."""
    import xgboost as xgb

    p = {**DEFAULT_PARAMS, **(params or {}), "seed": seed}
    fold_of = stratified_folds(data.y, n_folds, seed)
    n, f = data.X.shape
    margin, contrib, bias = np.zeros(n), np.zeros((n, f)), np.zeros(n)
    folds = []
    for k in range(n_folds):
        test, train = fold_of == k, fold_of != k
        dtrain = xgb.DMatrix(data.X[train], label=data.y[train], feature_names=data.features)
        dtest = xgb.DMatrix(data.X[test], feature_names=data.features)
        booster = xgb.train(p, dtrain, num_boost_round=rounds)
        margin[test] = booster.predict(dtest, output_margin=True)
        c = booster.predict(dtest, pred_contribs=True)
        contrib[test], bias[test] = c[:, :f], c[:, f]
        prob = 1.0 / (1.0 + np.exp(-margin[test]))
        folds.append(
            {
                "fold": k,
                "n_train": int(train.sum()),
                "n_test": int(test.sum()),
                "auc": roc_auc(data.y[test], margin[test]),
                "accuracy": float(np.mean((prob >= 0.5) == data.y[test])),
            }
        )
    probability = 1.0 / (1.0 + np.exp(-margin))
    return CVResult(
        folds, margin, probability, contrib, bias, fold_of,
        auc=roc_auc(data.y, margin), accuracy=float(np.mean((probability >= 0.5) == data.y)),
    )  # fmt: skip


def train_final(
    data: Dataset, seed: int = 0, rounds: int = 100, params: dict[str, object] | None = None
) -> object:
    """One booster on all samples (for applying to new patients); returns xgboost.Booster."""
    import xgboost as xgb

    p = {**DEFAULT_PARAMS, **(params or {}), "seed": seed}
    dtrain = xgb.DMatrix(data.X, label=data.y, feature_names=data.features)
    return xgb.train(p, dtrain, num_boost_round=rounds)


def plot_contributions(
    data: Dataset, result: CVResult, path: str | Path, max_features: int = 20
) -> Path:
    """Beeswarm-like summary: one row per feature (largest mean |contribution| on top), one dot
    per sample at its contribution, coloured by the feature's value (rank within the feature)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata

    order = np.argsort(-result.mean_abs_contribution())[:max_features]
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(order) + 1.5))
    for row, j in enumerate(order[::-1]):
        x, v = result.contributions[:, j], data.X[:, j]
        ok = np.isfinite(v)
        colour = np.full(len(v), 0.5)
        if ok.sum() > 1:
            colour[ok] = (rankdata(v[ok]) - 1) / (ok.sum() - 1)
        # Spread dots vertically where they crowd: jitter scaled by local density.
        hist, edges = np.histogram(x, bins=30)
        density = hist[np.clip(np.digitize(x, edges) - 1, 0, len(hist) - 1)] / max(hist.max(), 1)
        y = row + rng.uniform(-0.4, 0.4, len(x)) * density
        sc = ax.scatter(x[ok], y[ok], c=colour[ok], cmap="coolwarm", vmin=0, vmax=1, s=12)
        ax.scatter(x[~ok], y[~ok], c="lightgray", s=12)  # missing feature value
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(order)), [data.features[j] for j in order[::-1]])
    ax.set_xlabel(f"contribution to log-odds of '{data.classes[1]}' (out-of-fold TreeSHAP)")
    cbar = fig.colorbar(sc, ax=ax, ticks=[0, 1])
    cbar.ax.set_yticklabels(["low", "high"])
    cbar.set_label("feature value")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _tsv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.6g}"
        return str(v)

    lines = ["\t".join(header)] + ["\t".join(cell(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_outputs(
    data: Dataset, result: CVResult, out_dir: str | Path, booster: object = None
) -> list[Path]:
    """folds.tsv, importance.tsv (mean |contribution|), contributions.tsv (per sample),
    predictions.tsv, shap_summary.png, summary.md and model.json when a final booster is given."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [
        _tsv(out / "folds.tsv", ["fold", "n_train", "n_test", "auc", "accuracy"],
             [[f["fold"], f["n_train"], f["n_test"], f["auc"], f["accuracy"]] for f in result.folds]),
    ]  # fmt: skip
    imp = result.mean_abs_contribution()
    mean_signed = result.contributions.mean(axis=0)
    order = np.argsort(-imp)
    files.append(
        _tsv(out / "importance.tsv", ["feature", "mean_abs_contribution", "mean_contribution"],
             [[data.features[j], float(imp[j]), float(mean_signed[j])] for j in order])
    )  # fmt: skip
    files.append(
        _tsv(out / "contributions.tsv", ["id", "label", "fold", *data.features, "bias"],
             [[data.ids[i], data.classes[data.y[i]], int(result.fold_of[i]),
               *map(float, result.contributions[i]), float(result.bias[i])] for i in range(len(data.y))])
    )  # fmt: skip
    files.append(
        _tsv(out / "predictions.tsv", ["id", "label", "fold", "margin", "probability"],
             [[data.ids[i], data.classes[data.y[i]], int(result.fold_of[i]), float(result.margin[i]),
               float(result.probability[i])] for i in range(len(data.y))])
    )  # fmt: skip
    files.append(plot_contributions(data, result, out / "shap_summary.png"))
    if booster is not None:
        booster.save_model(str(out / "model.json"))
        files.append(out / "model.json")
    aucs = np.array([f["auc"] for f in result.folds], float)
    accs = np.array([f["accuracy"] for f in result.folds], float)
    md = [
        "# XGBoost classifier (cross-validated)",
        "",
        f"Samples: {len(data.y)} ({int((data.y == 0).sum())} '{data.classes[0]}', "
        f"{int((data.y == 1).sum())} '{data.classes[1]}' = positive); features: {len(data.features)}; "
        f"folds: {len(result.folds)} (stratified, seeded).",
        "",
        f"AUC per fold: mean {np.nanmean(aucs):.3f} ± {np.nanstd(aucs):.3f}; pooled out-of-fold AUC {result.auc:.3f}.",
        f"Accuracy per fold: mean {np.nanmean(accs):.3f} ± {np.nanstd(accs):.3f}.",
        "",
        "| feature | mean abs contribution | mean contribution |",
        "|---|---|---|",
        *[f"| {data.features[j]} | {imp[j]:.4g} | {mean_signed[j]:.4g} |" for j in order],
        "",
        "Contributions: xgboost pred_contribs (TreeSHAP), out-of-fold, in log-odds of the positive class.",
        "![summary](shap_summary.png)",
    ]
    if data.ignored:
        md.insert(3, f"Non-numeric columns left out: {', '.join(data.ignored)}.")
    (out / "summary.md").write_text("\n".join(md) + "\n")
    files.append(out / "summary.md")
    return files
