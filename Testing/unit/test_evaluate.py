"""Validation workflow on tiny synthetic label maps written to tmp_path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk
from ScarQuantificationLib import metrics as m
from ScarQuantificationLib.evaluate import (
    GridMismatchError,
    apex_to_base_order,
    evaluate,
    slice_regions,
)
from ScarQuantificationLib.evaluate_io import find_cases, read_tsv
from ScarQuantificationLib.evaluate_report import agreement, write_report
from ScarQuantificationLib.label_maps import to_masks

SPACING = (1.5, 1.5, 10.0)


def heart(n_slices=6, size=40, scar_shift=0, scar_rows=4):
    """EMIDEC labels: an annulus per slice growing toward the base (k up), scar on the top."""
    yy, xx = np.mgrid[:size, :size] - size / 2
    r = np.hypot(yy, xx)
    labels = np.zeros((n_slices, size, size), np.uint8)
    for k in range(n_slices):
        inner = 4 + k
        labels[k][r < inner] = 1
        labels[k][(r >= inner) & (r < inner + 4)] = 2
        scar = (labels[k] == 2) & (yy < -inner + scar_rows - 4 + scar_shift)
        labels[k][scar] = 3
    return labels


def write(path, labels, spacing=SPACING, origin=(0.0, 0.0, 0.0)):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = sitk.GetImageFromArray(labels)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    sitk.WriteImage(img, str(path))
    return path


def rows(table, **where):
    return [r for r in table.rows if all(r.get(k) == v for k, v in where.items())]


def test_identical_maps_are_perfect(tmp_path):
    lab = heart()
    pred = write(tmp_path / "out" / "Case_A" / "labels.nii.gz", lab)
    ref = write(tmp_path / "ref" / "Case_A" / "Contours" / "Case_A.nii.gz", lab)
    res = evaluate(pred.parent, ref.parent.parent)
    assert {r["structure"] for r in res.patients.rows} == {
        "Myocardium",
        "Blood pool",
        "Scar",
        "No-reflow",
    }
    for r in rows(res.patients, region="all"):
        assert r["dice"] == 1.0 and r["hausdorff"] == 0.0 and r["volume_difference"] == 0.0
    scar = rows(res.patients, region="all", structure="Scar")[0]
    assert scar["burden_difference"] == 0.0 and scar["pred_burden"] > 0
    # No-reflow absent on both sides: empty-vs-empty convention.
    nr = rows(res.patients, region="all", structure="No-reflow")[0]
    assert nr["dice"] == 1.0 and nr["hausdorff"] == 0.0
    assert math.isnan(nr["balanced_accuracy"]) is False


def test_values_match_metric_functions(tmp_path):
    ref_lab, pred_lab = heart(), heart(scar_shift=2)
    write(tmp_path / "p.nii.gz", pred_lab)
    write(tmp_path / "r.nii.gz", ref_lab)
    res = evaluate(tmp_path / "p.nii.gz", tmp_path / "r.nii.gz")
    pm, rm = to_masks(pred_lab), to_masks(ref_lab)
    scar = rows(res.patients, region="all", structure="Scar")[0]
    assert scar["dice"] == pytest.approx(m.dice(pm["Scar"], rm["Scar"]))
    assert scar["hd95"] == pytest.approx(m.hd95(pm["Scar"], rm["Scar"], SPACING))
    assert scar["volume_difference"] == pytest.approx(
        m.volume_ml(pm["Scar"], SPACING) - m.volume_ml(rm["Scar"], SPACING)
    )
    assert scar["pred_mass"] == pytest.approx(1.05 * scar["pred_volume"])
    assert scar["burden_difference"] == pytest.approx(
        m.burden_percent(pm["Scar"], pm["Myocardium"])
        - m.burden_percent(rm["Scar"], rm["Myocardium"])
    )
    assert 0 < scar["dice"] < 1
    # Per slice: in-plane spacing only, one row per covered slice and structure.
    s3 = rows(res.slices, slice=3, structure="Scar")[0]
    assert s3["hausdorff"] == pytest.approx(m.hausdorff(pm["Scar"][3], rm["Scar"][3], SPACING[:2]))
    assert s3["pred_area"] == pytest.approx(pm["Scar"][3].sum() * 1.5 * 1.5)
    assert len(rows(res.slices, structure="Myocardium")) == 6


def test_regions_equipartition_apex_to_base(tmp_path):
    lab = heart(n_slices=7)
    lab[0] = 0  # the reference covers slices 1..6 only; a prediction there is "outside"
    pred = heart(n_slices=7)
    write(tmp_path / "p.nii.gz", pred)
    write(tmp_path / "r.nii.gz", lab)
    res = evaluate(tmp_path / "p.nii.gz", tmp_path / "r.nii.gz")
    assert res.cases["p"].startswith("anatomy")
    regions = {r["slice"]: r["region"] for r in rows(res.slices, structure="Myocardium")}
    assert regions == {0: "outside", 1: "apex", 2: "apex", 3: "mid", 4: "mid", 5: "base", 6: "base"}
    by_region = {r["region"]: r["slices"] for r in rows(res.patients, structure="Myocardium")}
    assert by_region == {"all": 7, "apex": 2, "mid": 2, "base": 2}
    # Flipped stack: the base is now at k = 0.
    order, basis = apex_to_base_order(np.array([9, 7, 5, 3]), np.eye(3))
    assert order.tolist() == [3, 2, 1, 0] and basis.startswith("anatomy")


def test_order_from_oblique_geometry_and_regions():
    # Slice normal pointing right-posterior-superior (apex -> base): k increases toward the base.
    # With a flat LV area the geometry decides; a decisive area trend overrules it (apex_base).
    n = np.array([-0.5, 0.6, 0.62])
    n /= np.linalg.norm(n)
    u = np.cross(n, [0, 0, 1.0])
    u /= np.linalg.norm(u)
    direction = np.column_stack([u, np.cross(n, u), n])
    order, basis = apex_to_base_order(np.array([9, 9, 9]), direction)
    assert order.tolist() == [0, 1, 2] and basis.startswith("geometry")
    order, _ = apex_to_base_order(np.array([9, 9, 9]), -direction)
    assert order.tolist() == [2, 1, 0]
    order, basis = apex_to_base_order(np.array([9, 7, 5]), direction)
    assert order.tolist() == [2, 1, 0] and basis.startswith("anatomy") and "anatomy wins" in basis
    assert slice_regions(np.array([5, 4, 3, 2, 1])) == {
        5: "apex",
        4: "apex",
        3: "mid",
        2: "mid",
        1: "base",
    }


def test_grid_mismatch_raises(tmp_path):
    lab = heart()
    write(tmp_path / "p.nii.gz", lab)
    write(tmp_path / "r_spacing.nii.gz", lab, spacing=(1.4, 1.5, 10.0))
    write(tmp_path / "r_origin.nii.gz", lab, origin=(0.0, 5.0, 0.0))
    write(tmp_path / "r_size.nii.gz", lab[:5])
    with pytest.raises(GridMismatchError, match="spacing"):
        evaluate(tmp_path / "p.nii.gz", tmp_path / "r_spacing.nii.gz")
    with pytest.raises(GridMismatchError, match="origin"):
        evaluate(tmp_path / "p.nii.gz", tmp_path / "r_origin.nii.gz")
    # Headers may be ignored on request, the size never.
    assert evaluate(
        tmp_path / "p.nii.gz", tmp_path / "r_origin.nii.gz", check_geometry=False
    ).patients.rows
    with pytest.raises(GridMismatchError, match="size"):
        evaluate(tmp_path / "p.nii.gz", tmp_path / "r_size.nii.gz", check_geometry=False)


def test_folder_pairing_myops_reference_and_brier(tmp_path):
    lab = heart()
    myops = np.select([lab == 1, lab == 2, lab == 3], [500, 200, 2221], 0).astype(np.int16)
    for case in ("Case3001", "Case3002", "Case3009"):
        write(tmp_path / "out" / case / "labels.nii.gz", heart(scar_shift=1))
    for case in ("Case3001", "Case3002", "Case3005"):
        write(tmp_path / "myops" / case / f"{case}_gd.nii.gz", myops)
        write(tmp_path / "myops" / case / f"{case}_LGE.nii.gz", myops * 0 + 7)  # image: ignored
    prob = (heart(scar_shift=1) == 3).astype(np.float32) * 0.8
    write(tmp_path / "out" / "Case3001" / "scar_probability.nii.gz", prob)

    assert sorted(find_cases(tmp_path / "myops")) == ["Case3001", "Case3002", "Case3005"]
    res = evaluate(tmp_path / "out", tmp_path / "myops")
    assert sorted(res.cases) == ["Case3001", "Case3002"]
    assert res.unmatched_predictions == ["Case3009"] and res.unmatched_references == ["Case3005"]
    assert "No-reflow" not in {r["structure"] for r in res.patients.rows}  # MyoPS has none
    s1 = rows(res.patients, case="Case3001", region="all", structure="Scar")[0]
    s2 = rows(res.patients, case="Case3002", region="all", structure="Scar")[0]
    assert s1["brier"] is not None and s1["brier"] > 0 and s2["brier"] is None
    ref_scar, p = to_masks(myops)["Scar"], prob.astype(np.float64)
    region = to_masks(heart(scar_shift=1))["Myocardium"] | to_masks(myops)["Myocardium"]
    assert s1["brier"] == pytest.approx(m.brier_score(p, ref_scar, region))


def test_report_files_and_schema(tmp_path):
    for i, case in enumerate(("Case_P001", "Case_P002", "Case_P003")):
        write(tmp_path / "out" / case / "labels.nii.gz", heart(scar_shift=i))
        write(tmp_path / "ref" / case / "Contours" / f"{case}.nii.gz", heart(scar_shift=1))
    res = evaluate(tmp_path / "out", tmp_path / "ref")
    files = write_report(res, tmp_path / "eval")
    names = {f.name for f in files}
    assert {"patients.tsv", "patients.schema.tsv", "slices.tsv", "slices.schema.tsv"} <= names
    assert {"summary.md", "summary.html", "scar_mass.png", "scar_burden.png"} <= names
    table = read_tsv(tmp_path / "eval" / "patients.tsv")
    assert len(table) == 3 * 4 * 4  # cases x regions x structures
    schema = read_tsv(tmp_path / "eval" / "patients.schema.tsv")
    hd = next(r for r in schema if r["columnName"] == "hausdorff")
    assert hd["type"] == "double" and hd["unitLabel"] == "mm"
    md = (tmp_path / "eval" / "summary.md").read_text()
    assert "Wilcoxon" in md and "scar_mass.png" in md
    assert "<table>" in (tmp_path / "eval" / "summary.html").read_text()


def test_agreement_statistics():
    ref = np.array([10.0, 12.0, 8.0, 15.0, 9.0])
    pred = ref + np.array([1.0, 2.0, 1.5, 2.5, 1.0])
    a = agreement(pred, ref, "scar mass", "g")
    assert a.n == 5 and a.bias == pytest.approx(1.6)
    assert a.loa_high - a.loa_low == pytest.approx(2 * 1.96 * np.std(pred - ref, ddof=1))
    assert a.wilcoxon_p == pytest.approx(0.0625)  # all 5 differences positive: exact 2/32
    assert 0 < a.welch_p < 1
    one = agreement(np.array([1.0, np.nan]), np.array([2.0, 3.0]))
    assert one.n == 1 and math.isnan(one.sd) and math.isnan(one.wilcoxon_p)
