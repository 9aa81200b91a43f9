import numpy as np
from ScarSegmentationLib.data.loaders import PatientSlices
from ScarSegmentationLib.data.split import FORCED_TEST, make_split, strata


def fake_patients():
    rng = np.random.default_rng(0)
    out = {}

    def add(pid, centre, burden):
        lab = np.zeros((20, 20), np.uint8)
        lab[:10] = 2
        lab[: int(round(10 * burden))] = 3
        out[pid] = PatientSlices(pid, centre, [rng.random((20, 20))], [lab], [0])

    for i in range(26):
        add(f"emidec/Case_N{i:03d}", "emidec", 0.0)
    for i in range(54):
        add(f"emidec/Case_P{i + 47:03d}", "emidec", rng.uniform(0.05, 0.9))
    for i in range(25):
        add(f"myops/Case{3001 + i}", "myops", rng.uniform(0.05, 0.9))
    return out


def test_split_is_disjoint_complete_and_forced():
    pats = fake_patients()
    s = make_split(pats, seed=1)
    sets = [set(s[k]) for k in ("train", "val", "test")]
    assert sum(len(x) for x in sets) == len(pats)
    assert set.union(*sets) == set(pats)
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    for pid in FORCED_TEST:
        assert pid in s["test"]
    n = len(pats)
    assert abs(len(s["train"]) / n - 0.70) < 0.05


def test_split_is_seeded_and_stratified():
    pats = fake_patients()
    assert make_split(pats, seed=3) == make_split(pats, seed=3)
    assert make_split(pats, seed=3)["train"] != make_split(pats, seed=4)["train"]
    s = make_split(pats, seed=3)
    for name, ids in strata(pats).items():
        in_test = sum(p in s["test"] for p in ids)
        assert in_test >= 1, name  # every stratum reaches the test set
    assert sum(p.startswith("myops/") for p in s["test"]) >= 3


def test_strata_by_burden():
    pats = fake_patients()
    st = strata(pats)
    burden = {p: pats[p].scar_burden() for p in pats}
    t1, t3 = st["emidec-patho-t1"], st["emidec-patho-t3"]
    assert max(burden[p] for p in t1) <= min(burden[p] for p in t3)
    assert all("Case_N" in p for p in st["emidec-normal"])
