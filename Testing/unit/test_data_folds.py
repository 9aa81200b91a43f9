import json

import numpy as np
import pytest
from ScarSegmentationLib.data.folds import (
    K,
    folds_path,
    load_folds,
    make_folds,
    train_val_for,
    write_folds,
)
from ScarSegmentationLib.data.loaders import PatientSlices
from ScarSegmentationLib.data.split import strata


def fake_patients():
    """26 normal + 54 pathological EMIDEC and 25 MyoPS patients with known burdens."""
    rng = np.random.default_rng(0)
    out = {}

    def add(pid, centre, burden):
        lab = np.zeros((20, 20), np.uint8)
        lab[:10] = 2
        lab[: int(round(10 * burden))] = 3
        out[pid] = PatientSlices(pid, centre, [np.zeros((20, 20))], [lab], [0])

    for i in range(26):
        add(f"emidec/Case_N{i:03d}", "emidec", 0.0)
    for i in range(54):
        add(f"emidec/Case_P{i + 1:03d}", "emidec", rng.uniform(0.05, 0.9))
    for i in range(25):
        add(f"myops/Case{3001 + i}", "myops", rng.uniform(0.05, 0.9))
    return out


def check_balanced(folds, patients):
    ids = [p for f in folds for p in f]
    assert len(folds) == K
    assert sorted(ids) == sorted(patients) and len(set(ids)) == len(ids)  # each in one fold
    for centre in ("emidec/", "myops/"):
        n = [sum(p.startswith(centre) for p in f) for f in folds]
        assert max(n) - min(n) <= 1, (centre, n)
    for name, members in strata(patients).items():
        n = [len(set(f) & set(members)) for f in folds]
        assert max(n) - min(n) <= 1, (name, n)


def test_folds_partition_and_balance():
    pats = fake_patients()
    f = make_folds(pats, seed=1)
    check_balanced(f["folds"], pats)
    assert [c["total"] for c in f["counts"]] == [len(x) for x in f["folds"]]
    assert sum(c["emidec-normal"] for c in f["counts"]) == 26
    assert "split.json" in f["note"] and f["seed"] == 1


def test_folds_deterministic_and_seeded():
    pats = fake_patients()
    assert make_folds(pats, seed=3) == make_folds(pats, seed=3)
    assert make_folds(pats, seed=3)["folds"] != make_folds(pats, seed=4)["folds"]


def test_train_val_for(tmp_path):
    pats = fake_patients()
    path = write_folds(make_folds(pats), tmp_path / "folds.json")
    folds = load_folds(path)
    for k in range(K):
        train, held = train_val_for(k, path)
        assert held == sorted(folds[k])
        assert not set(train) & set(held) and len(train) + len(held) == len(pats)
    with pytest.raises(ValueError):
        train_val_for(K, path)


def test_committed_folds_file_is_balanced():
    """No data needed: the committed assignment covers 80 EMIDEC + 25 MyoPS, balanced."""
    folds = load_folds()
    ids = [p for f in folds for p in f]
    assert len(ids) == len(set(ids)) == 105
    assert sum(p.startswith("emidec/Case_") for p in ids) == 80
    assert sum(p.startswith("myops/Case") for p in ids) == 25
    split = json.loads((folds_path().parent / "split.json").read_text())
    assert set(ids) == set(split["train"] + split["val"] + split["test"])
    for centre in ("emidec/", "myops/"):
        n = [sum(p.startswith(centre) for p in f) for f in folds]
        assert max(n) - min(n) <= 1


@pytest.mark.data
def test_committed_folds_equal_generator(data_dir):
    from ScarSegmentationLib.data.loaders import load_all

    pats = load_all(data_dir)
    generated = make_folds(pats)
    check_balanced(generated["folds"], pats)
    committed = json.loads(folds_path().read_text())
    assert committed == json.loads(json.dumps(generated)), (
        "Resources/Models/folds.json is stale: python -m ScarSegmentationLib.data.folds --write"
    )
