"""RV insertion points detected on the LGE image against the MyoPS RV blood-pool reference.

Reference: per slice, the LV epicardium (edge of myocardium + cavity) pixels within 2 mm of the RV
blood pool (label 600); seen from the LV centre their angles form an arc (the complement of the
largest angular gap), whose two ends are the reference insertion points. Detection
(ScarQuantificationLib.rv_insertion) sees the LGE image and the reference LV labels (myocardium,
blood pool, scar), never label 600. Error: angle between the detected and the reference point,
each end with its own (the arc's counterclockwise start with the start, end with end; which end is
anterior does not enter).

Validation is leave-one-case-out: the logistic model is refitted on the other 24 cases for each
case. The arc settings (module constants) were chosen on cases 3001-3012 only; the summary also
reports 3013-3025 on their own. For comparison: the previous estimate from the patient axes
(aha.reference_from_direction, which MyoPS's real geometry supports and EMIDEC's does not).

    .venv/bin/python bench/bench_rv_insertion.py            # the validation table
    .venv/bin/python bench/bench_rv_insertion.py --fit      # WEIGHTS for rv_insertion.py (all 25)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage, optimize

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "ScarSegmentation"), str(REPO / "ScarQuantification")]

from ScarQuantificationLib import rv_insertion as rvi  # noqa: E402
from ScarQuantificationLib.aha import reference_from_direction  # noqa: E402
from ScarQuantificationLib.apex_base import decide_from_masks  # noqa: E402
from ScarQuantificationLib.slices import slice_geometry  # noqa: E402

DATA = Path(os.environ.get("SCARSEG_DATA", REPO.parent / "shared" / "data"))
TOUCH_MM = 2.0  # RV blood pool within this distance of an epicardial pixel: they meet there
TUNE = {f"Case30{n:02d}" for n in range(1, 13)}  # arc settings chosen on these
L2 = 1.0


def read(path: Path):
    import SimpleITK as sitk

    img = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(img), img.GetSpacing(), np.array(img.GetDirection()).reshape(3, 3)


def reference_arc(myo2d, cavity2d, rv2d, centre, pixel_spacing):
    """(start, end) radians, counterclockwise, of the epicardium the RV blood pool meets; None
    where it meets fewer than 3 epicardial pixels."""
    lv = ndimage.binary_fill_holes(myo2d | cavity2d)
    epi = lv & ~ndimage.binary_erosion(lv)
    if not rv2d.any():
        return None
    near = ndimage.distance_transform_edt(~rv2d, sampling=pixel_spacing) <= TOUCH_MM
    rr, cc = np.nonzero(epi & near)
    if rr.size < 3:
        return None
    a = np.sort(np.mod(np.arctan2((rr - centre[0]) * pixel_spacing[0],
                                  (cc - centre[1]) * pixel_spacing[1]), 2 * np.pi))  # fmt: skip
    gaps = np.diff(np.concatenate([a, [a[0] + 2 * np.pi]]))
    i = int(np.argmax(gaps))
    return float(a[(i + 1) % a.size]), float(a[i])


def in_arc(angles, arc):
    start, end = arc
    return np.mod(angles - start, 2 * np.pi) <= np.mod(end - start, 2 * np.pi)


def load_cases():
    cases = {}
    for case in sorted(p for p in (DATA / "myops-train25").glob("Case*") if p.is_dir()):
        image, spacing, direction = read(case / f"{case.name}_LGE.nii.gz")
        gd, _, _ = read(case / f"{case.name}_gd.nii.gz")
        myo = np.isin(gd, (200, 1220, 2221))
        bp, scar, rv = gd == 500, gd == 2221, gd == 600
        order = decide_from_masks(direction, myo | bp).order
        g = slice_geometry({"Myocardium": myo, "Blood pool": bp}, spacing, order)
        feats = rvi.slice_features(image.astype(float), myo, g, scar)
        refs, labels = {}, {}
        for k in feats:
            arc = reference_arc(myo[k], g.cavity[k], rv[k], g.centres[k], g.pixel_spacing)
            refs[k] = arc
            labels[k] = np.zeros(rvi.N_ANGLES) if arc is None else in_arc(rvi._rays(), arc) * 1.0
        ratio = rvi.remote_to_blood(image.astype(float), myo, g.cavity, scar)
        cases[case.name] = dict(
            feats=feats, refs=refs, labels=labels, g=g, direction=direction, ratio=ratio
        )
    if not cases:
        sys.exit(f"no MyoPS cases under {DATA / 'myops-train25'} (set SCARSEG_DATA)")
    return cases


def fit(cases, names):
    """Logistic regression (L2 on standardised features); weights on the raw features."""
    x = np.concatenate([f for n in names for f in cases[n]["feats"].values()])
    y = np.concatenate([v for n in names for v in cases[n]["labels"].values()])
    mu, sd = x.mean(0), x.std(0) + 1e-9
    xn = np.c_[(x - mu) / sd, np.ones(len(x))]

    def loss(w):
        s = xn @ w
        reg = np.r_[w[:-1], 0.0]
        grad = xn.T @ (1.0 / (1.0 + np.exp(-s)) - y) + L2 * reg
        return float(np.sum(np.logaddexp(0.0, s) - y * s) + L2 * reg @ reg / 2), grad

    w = optimize.minimize(loss, np.zeros(xn.shape[1]), jac=True, method="L-BFGS-B").x
    raw = w[:-1] / sd
    return np.r_[raw, w[-1] - raw @ mu]


def angle_error(a, b):
    return float(np.degrees(abs(np.mod(a - b + np.pi, 2 * np.pi) - np.pi)))


def errors(detection, refs):
    out = []
    for k, ref in refs.items():
        if ref is None or k not in detection.arcs:
            continue
        arc = detection.arcs[k]
        out += [angle_error(arc.start, ref[0]), angle_error(arc.end, ref[1])]
    return out


def direction_errors(case):
    """The patient-axes estimate: anterior insertion at ref.angle, inferior 120 AHA deg on."""
    g = case["g"]
    ref = reference_from_direction(case["direction"], g)
    ant, inf = ref.angle, ref.angle + ref.sense * np.radians(120.0)
    start, end = (ant, inf) if ref.sense > 0 else (inf, ant)
    out = []
    for r in case["refs"].values():
        if r is not None:
            out += [angle_error(start, r[0]), angle_error(end, r[1])]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="print WEIGHTS fitted on all cases")
    args = ap.parse_args()
    cases = load_cases()
    names = sorted(cases)
    if args.fit:
        w = fit(cases, names)
        print(
            "WEIGHTS = np.array(\n    [\n" + "".join(f"        {v:.6g},\n" for v in w) + "    ]\n)"
        )
        return
    print("case\tslices\tdetected\tconfident\tmedian_deg\tp90_deg\tpatient_axes_median_deg")
    pooled = {"all": [], "tune (3001-3012)": [], "held out (3013-3025)": []}
    axes, shipped = [], []
    for name in names:
        w = fit(cases, [n for n in names if n != name])
        logits = {k: rvi.log_odds(f, w) for k, f in cases[name]["feats"].items()}
        det = rvi.arcs_from_log_odds(logits)
        det.remote_to_blood = cases[name]["ratio"]
        e = errors(det, cases[name]["refs"])
        ax = direction_errors(cases[name])
        axes += ax
        pooled["all"] += e
        pooled["tune (3001-3012)" if name in TUNE else "held out (3013-3025)"] += e
        own = {k: rvi.log_odds(f) for k, f in cases[name]["feats"].items()}
        shipped += errors(rvi.arcs_from_log_odds(own), cases[name]["refs"])
        print(f"{name}\t{len(e) // 2}\t{det.summary()}\t{int(det.confident)}\t"
              f"{np.median(e):.1f}\t{np.percentile(e, 90):.1f}\t{np.median(ax):.1f}", flush=True)  # fmt: skip
    print()
    print("set\tpoints\tmedian_deg\tp90_deg")
    for key, e in pooled.items():
        print(
            f"{key}, leave-one-case-out\t{len(e)}\t{np.median(e):.1f}\t{np.percentile(e, 90):.1f}"
        )
    print(f"shipped weights (fitted on all 25, in-sample)\t{len(shipped)}\t"
          f"{np.median(shipped):.1f}\t{np.percentile(shipped, 90):.1f}")  # fmt: skip
    print(f"patient axes (previous estimate)\t{len(axes)}\t{np.median(axes):.1f}\t"
          f"{np.percentile(axes, 90):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
