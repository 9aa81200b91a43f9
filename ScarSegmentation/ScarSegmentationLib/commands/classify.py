"""Train and cross-validate an XGBoost classifier on a labelled features CSV.

FEATURES is a CSV (or TSV) with one row per patient: the first column is the case id, numeric
columns are features (non-numeric ones are left out and listed), --label names the column with
the two classes (e.g. acute/chronic). Stratified k-fold cross-validation (seeded) reports AUC and
accuracy per fold; per-feature contributions are xgboost's own TreeSHAP values
(pred_contribs=True), out-of-fold. OUTDIR receives folds.tsv, importance.tsv (mean |contribution|
per feature), contributions.tsv, predictions.tsv, shap_summary.png, summary.md and model.json
(trained on all rows). Research use only.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("features", metavar="FEATURES", help="features CSV with a label column")
    parser.add_argument(
        "--label", required=True, metavar="COLUMN", help="column holding the 2 classes"
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder")
    parser.add_argument(
        "--positive", metavar="VALUE", help="positive class (default: the second in sorted order)"
    )
    parser.add_argument("--id-column", metavar="COLUMN", help="case id column (default: the first)")
    parser.add_argument(
        "--exclude", nargs="*", default=[], metavar="COLUMN", help="feature columns to leave out"
    )
    parser.add_argument(
        "--folds", type=int, default=5, help="cross-validation folds (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    parser.add_argument(
        "--rounds", type=int, default=100, help="boosting rounds (default %(default)s)"
    )
    parser.add_argument("--max-depth", type=int, default=3, help="tree depth (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    from ScarQuantificationLib.classify import (
        cross_validate,
        load_dataset,
        train_final,
        write_outputs,
    )

    from ..errors import InputError

    try:
        data = load_dataset(
            args.features, args.label, args.id_column, args.positive, tuple(args.exclude)
        )
        params = {"max_depth": args.max_depth}
        result = cross_validate(data, args.folds, args.seed, args.rounds, params)
    except (ValueError, FileNotFoundError) as exc:
        raise InputError(str(exc)) from exc
    booster = train_final(data, args.seed, args.rounds, params)
    files = write_outputs(data, result, args.output, booster)
    aucs = [f["auc"] for f in result.folds]
    print(
        f"AUC per fold: {', '.join(f'{a:.3f}' for a in aucs)}; pooled out-of-fold AUC {result.auc:.3f}"
    )
    for f in files:
        print(f)
    return 0
