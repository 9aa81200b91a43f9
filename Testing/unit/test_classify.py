"""XGBoost cross-validation and pred_contribs explanations on synthetic data."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from ScarQuantificationLib.classify import (
    Dataset,
    cross_validate,
    load_dataset,
    roc_auc,
    stratified_folds,
    write_outputs,
)


def separable(n=60, seed=1):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    signal = rng.normal(0, 1, n) + 3.0 * y  # informative
    noise = rng.normal(0, 1, n)
    sparse = np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 1, n))  # missing values
    X = np.column_stack([noise, signal, sparse])
    ids = [f"P{i:03d}" for i in range(n)]
    return Dataset(X, y, ["noise", "signal", "sparse"], ids, ("chronic", "acute"))


def test_roc_auc_hand_computed():
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert np.isnan(roc_auc(np.array([1, 1]), np.array([0.1, 0.2])))


def test_stratified_folds_balanced_and_seeded():
    y = np.array([0] * 12 + [1] * 8)
    f = stratified_folds(y, 4, seed=3)
    assert np.array_equal(f, stratified_folds(y, 4, seed=3))
    assert not np.array_equal(f, stratified_folds(y, 4, seed=4))
    for k in range(4):
        assert (y[f == k] == 0).sum() == 3 and (y[f == k] == 1).sum() == 2
    with pytest.raises(ValueError, match="per class"):
        stratified_folds(y, 9)


def test_separable_data_high_auc_and_contributions_sum_to_margin():
    data = separable()
    res = cross_validate(data, n_folds=5, seed=0, rounds=50)
    assert len(res.folds) == 5 and sum(f["n_test"] for f in res.folds) == 60
    assert res.auc > 0.9
    assert np.mean([f["auc"] for f in res.folds]) > 0.9
    # TreeSHAP additivity: per-feature contributions + bias = the margin (log-odds).
    assert np.allclose(res.contributions.sum(axis=1) + res.bias, res.margin, atol=1e-4)
    imp = res.mean_abs_contribution()
    assert imp[1] == imp.max()  # the informative feature explains most
    assert np.array_equal(res.margin, cross_validate(data, 5, 0, 50).margin)  # seeded


def test_csv_to_outputs(tmp_path):
    data = separable(40)
    path = tmp_path / "features.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "source", "noise", "signal", "sparse", "group"])
        for i in range(40):
            vals = ["" if np.isnan(v) else f"{v:.5f}" for v in data.X[i]]
            w.writerow([data.ids[i], f"/x/{i}.nii.gz", *vals, data.classes[data.y[i]]])
        w.writerow(["P999", "/x", "1", "2", "3", ""])  # unlabelled: dropped
    loaded = load_dataset(path, "group")
    assert loaded.features == ["noise", "signal", "sparse"] and loaded.ignored == ["source"]
    assert (
        loaded.classes == ("acute", "chronic") and len(loaded.y) == 40
    )  # sorted: chronic positive
    assert np.array_equal(loaded.y, 1 - data.y)
    assert np.isnan(loaded.X[:, 2]).sum() == np.isnan(data.X[:, 2]).sum()
    with pytest.raises(ValueError, match="no column"):
        load_dataset(path, "missing")
    res = cross_validate(loaded, 4, 0, 30)
    files = {p.name for p in write_outputs(loaded, res, tmp_path / "cls")}
    assert {
        "folds.tsv",
        "importance.tsv",
        "contributions.tsv",
        "shap_summary.png",
        "summary.md",
    } <= files
    top = (tmp_path / "cls" / "importance.tsv").read_text().splitlines()[1].split("\t")[0]
    assert top == "signal"
