"""Seeded 5-fold cross-validation over ALL development patients, by patient, stratified.

The 105 development patients (EMIDEC 80 PNG, MyoPS 25) are grouped with the strata of
`split.strata` (EMIDEC normal, i.e. burden 0, as its own group; EMIDEC pathological by
scar-burden tertile; MyoPS by scar-burden tertile; burden = reference scar voxels / myocardium
voxels). Each stratum is shuffled with the seed, and the strata, one after the other (EMIDEC then
MyoPS), are dealt round-robin into the folds, the deal going on where the previous stratum
stopped. So every stratum and every centre is spread over the folds with counts that differ by at
most 1.

The 16 test patients of split.json have informed earlier choices (thresholds, methods, stopping),
so their numbers are no longer an unbiased test: from now on choices rest on the cross-validated
numbers over all 105 patients (mean and spread across folds, per centre; bench/bench_cv.py), and
unbiased checks are left to the sealed evaluation set.

`Resources/Models/folds.json` (in the repository, not installed) holds the assignment; regenerate
it with `python -m ScarSegmentationLib.data.folds --write` (run from ScarSegmentation/).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from .loaders import PatientSlices
from .split import strata

SEED = 20205
K = 5
METHOD = (
    "patient-level 5-fold cross-validation over all development patients (EMIDEC 80 PNG, "
    "MyoPS 25); strata of data/split.py (EMIDEC normal = burden 0, EMIDEC pathological by "
    "scar-burden tertile, MyoPS by scar-burden tertile; burden = reference scar 3+4 / myocardium "
    "2+3+4 voxels); each stratum sorted, shuffled (numpy default_rng(seed), one generator in "
    "stratum order) and dealt round-robin into the folds, the deal continuing across strata"
)
NOTE = (
    "The 16 test patients of split.json informed earlier choices; cross-validated numbers over "
    "all 105 patients (fold k held out, models trained on the other four) are what future "
    "choices rest on. Unbiased checks: the sealed evaluation set only."
)


def folds_path() -> Path:
    """The committed assignment, Resources/Models/folds.json of the repository (never
    SCARSEG_MODELS: bench_cv.py points that at each fold's models)."""
    return Path(__file__).resolve().parents[3] / "Resources" / "Models" / "folds.json"


def _group(pid: str, stratum: str) -> str:
    return "normal" if stratum.endswith("normal") else stratum.rsplit("-", 1)[1]


def make_folds(patients: dict[str, PatientSlices], seed: int = SEED, k: int = K) -> dict:
    """{"seed", "k", "method", "note", "folds": [[ids]] * k, "counts": [per fold], "strata"}."""
    rng = np.random.default_rng(seed)
    folds: list[list[str]] = [[] for _ in range(k)]
    st = strata(patients)
    nxt = 0
    for ids in st.values():  # insertion order: emidec-normal, emidec-patho-t1..3, myops-t1..3
        for i in rng.permutation(len(ids)):
            folds[nxt].append(ids[i])
            nxt = (nxt + 1) % k
    stratum_of = {p: name for name, ids in st.items() for p in ids}
    counts = []
    for fold in folds:
        c = Counter()
        for p in fold:
            c[p.split("/")[0]] += 1
            c[f"{p.split('/')[0]}-{_group(p, stratum_of[p])}"] += 1
        counts.append({"total": len(fold), **dict(sorted(c.items()))})
    burden = {p: patients[p].scar_burden() for p in patients}
    ranges = {
        name: [round(min(burden[p] for p in ids), 4), round(max(burden[p] for p in ids), 4)]
        for name, ids in st.items()
        if ids
    }
    return {
        "seed": seed,
        "k": k,
        "method": METHOD,
        "note": NOTE,
        "folds": [sorted(f) for f in folds],
        "counts": counts,
        "strata_burden_range": ranges,
    }


def write_folds(folds: dict, path: Path | None = None) -> Path:
    path = path or folds_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(folds, indent=1) + "\n")
    return path


def load_folds_file(path: Path | str | None = None) -> dict:
    return json.loads(Path(path or folds_path()).read_text())


def load_folds(path: Path | str | None = None) -> list[list[str]]:
    """The committed folds: K lists of patient ids ("emidec/Case_P001", "myops/Case3001")."""
    return load_folds_file(path)["folds"]


def train_val_for(fold: int, path: Path | str | None = None) -> tuple[list[str], list[str]]:
    """(train, held-out) for fold `fold` (0-based): the other folds' patients, and this fold's.

    The held-out fold is what bench_cv.py scores; a trainer that picks its checkpoint on it
    biases that fold's numbers, so pick by a fixed schedule or an inner split of `train`."""
    folds = load_folds(path)
    if not 0 <= fold < len(folds):
        raise ValueError(f"fold {fold} out of range 0..{len(folds) - 1}")
    train = sorted(p for i, f in enumerate(folds) if i != fold for p in f)
    return train, sorted(folds[fold])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="5-fold CV assignment (Resources/Models/folds.json)")
    ap.add_argument("--write", action="store_true", help="write folds.json (else print counts)")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    from .loaders import load_all

    folds = make_folds(load_all(), seed=args.seed)
    for i, c in enumerate(folds["counts"]):
        print(f"fold {i}: {c}")
    if args.write:
        print(write_folds(folds))
    return 0


if __name__ == "__main__":  # python -m ScarSegmentationLib.data.folds --write
    raise SystemExit(main())
