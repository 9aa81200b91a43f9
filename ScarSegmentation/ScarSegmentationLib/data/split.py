"""Seeded patient-level train/val/test split, stratified by centre and scar burden.

Strata: EMIDEC normal; EMIDEC pathological by scar-burden tertile; MyoPS by scar-burden tertile.
Each stratum is shuffled with the seed and cut 70/15/15. EMIDEC Case_P100 and Case_N006 are
forced into test: their NIfTI volumes (real geometry) are the sample study and the mm check.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .loaders import PatientSlices

SEED = 20201
FRACTIONS = (0.70, 0.15, 0.15)
FORCED_TEST = ("emidec/Case_P100", "emidec/Case_N006")
METHOD = (
    "patient-level; strata = EMIDEC normal, EMIDEC pathological by scar-burden tertile, "
    "MyoPS by scar-burden tertile; each stratum shuffled (numpy default_rng(seed)) and cut "
    "70/15/15 (val and test = round(0.15 n)); EMIDEC Case_P100 and Case_N006 forced into test"
)


def split_path() -> Path:
    from ..weights import models_dir

    return models_dir() / "split.json"


def _tertiles(ids: list[str], burden: dict[str, float]) -> list[list[str]]:
    ordered = sorted(ids, key=lambda p: (burden[p], p))
    return [list(chunk) for chunk in np.array_split(np.array(ordered, dtype=object), 3)]


def strata(patients: dict[str, PatientSlices]) -> dict[str, list[str]]:
    burden = {pid: p.scar_burden() for pid, p in patients.items()}
    emidec = [p for p in patients if patients[p].centre == "emidec"]
    myops = [p for p in patients if patients[p].centre == "myops"]
    out = {"emidec-normal": sorted(p for p in emidec if "Case_N" in p)}
    patho = [p for p in emidec if "Case_N" not in p]
    for i, chunk in enumerate(_tertiles(patho, burden)):
        out[f"emidec-patho-t{i + 1}"] = sorted(chunk)
    for i, chunk in enumerate(_tertiles(myops, burden)):
        out[f"myops-t{i + 1}"] = sorted(chunk)
    return out


def make_split(patients: dict[str, PatientSlices], seed: int = SEED) -> dict:
    rng = np.random.default_rng(seed)
    result: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for ids in strata(patients).values():
        n = len(ids)
        n_test = int(round(FRACTIONS[2] * n))
        n_val = int(round(FRACTIONS[1] * n))
        forced = [p for p in ids if p in FORCED_TEST]
        rest = [p for p in ids if p not in FORCED_TEST]
        rest = [rest[i] for i in rng.permutation(len(rest))]
        n_more = max(n_test - len(forced), 0)
        result["test"] += forced + rest[:n_more]
        result["val"] += rest[n_more : n_more + n_val]
        result["train"] += rest[n_more + n_val :]
    return {"seed": seed, "method": METHOD, **{k: sorted(v) for k, v in result.items()}}


def write_split(split: dict, path: Path | None = None) -> Path:
    path = path or split_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(split, indent=1) + "\n")
    return path


def load_split(path: Path | str | None = None) -> dict:
    """The committed split: {"seed", "method", "train", "val", "test"} (ids like "emidec/Case_P100")."""
    return json.loads(Path(path or split_path()).read_text())


if __name__ == "__main__":  # regenerate: python -m ScarSegmentationLib.data.split
    from .loaders import load_all

    print(write_split(make_split(load_all())))
