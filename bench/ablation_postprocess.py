"""Post-processing ablations on the fold models' held-out probabilities (bench/dump_cv_probs.py):
can the scar the pipeline leaves in the blood pool, or more no-reflow, be recovered without
retraining?

    .venv/bin/python bench/ablation_postprocess.py [--probs runs/probs]

Per centre, on every dumped patient (each scored by the fold model that never saw it):
1. How confident the net is where it misses: P(scar) + P(no-reflow) on the reference scar it
   called blood pool, against the true blood pool.
2. Scar grown from the predicted lesions (per slice, 8-connected) into blood-pool (and
   background) pixels with P(scar) + P(no-reflow) >= t, or into myocardium pixels with
   P(scar | wall) >= t (a hysteresis threshold seeded by the shipped decision).
3. The endocardial border across the scar interpolated (over the angle, from the LV centre)
   from the border of the healthy wall on either side, and the blood pool between it and the
   predicted border called scar (a smooth-border rule; margin m pixels inside it).
4. Scar grown from the lesions by up to d pixels into blood-pool pixels brighter than
   a * median(scar) + (1 - a) * median(blood pool) of the same study (an intensity rule).
5. The no-reflow threshold on P(no-reflow | scar) of the mean softmax (the pipeline thresholds
   the passes' mean of that ratio at 0.5, so its "learned" row differs a little), chosen by
   nested cross-validation (each fold's threshold chosen on the other folds by mean no-reflow
   Dice), and the pipeline's no-reflow combined with the dark-core rule (union, intersection).
Rows: scar Dice (patients with scar), myocardium (wall) Dice, burden absolute error (pp), normal
hearts below 1 % burden. Nothing here changes the pipeline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.stats import wilcoxon

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(REPO / "bench"),
    str(REPO / "ScarSegmentation"),
    str(REPO / "ScarQuantification"),
]

from bench_pipeline import burden  # noqa: E402
from ScarQuantificationLib.metrics import dice  # noqa: E402
from ScarQuantificationLib.no_reflow import dark_core_no_reflow  # noqa: E402

BLOOD_POOL, MYOCARDIUM, SCAR, NO_REFLOW = 1, 2, 3, 4
NR_THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
EIGHT = np.ones((3, 3), dtype=bool)


def grow_from_lesions(scar: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Scar plus the candidate pixels connected to it, slice by slice: a heart with no
    predicted scar (the presence rule's normal hearts) gains none."""
    out = scar.copy()
    for k in range(len(scar)):
        if scar[k].any() and candidates[k].any():
            lab, _ = ndimage.label(scar[k] | candidates[k], structure=EIGHT)
            seeds = np.unique(lab[scar[k]])
            out[k] = np.isin(lab, seeds[seeds > 0])
    return out


def probability_growth(
    pred: np.ndarray, probs: np.ndarray, t: float, into: tuple[str, ...], wall_t: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """(scar, wall) after growing into `into` ("pool", "bg") where P(scar)+P(no-reflow) >= t
    and into myocardium where P(scar | wall) >= wall_t."""
    p_scar = probs[SCAR:].astype(np.float32).sum(0)
    cand = np.zeros(pred.shape, dtype=bool)
    if "pool" in into:
        cand |= (pred == BLOOD_POOL) & (p_scar >= t)
    if "bg" in into:
        cand |= (pred == 0) & (p_scar >= t)
    if wall_t is not None:
        p_wall = probs[MYOCARDIUM].astype(np.float32) + p_scar
        cand |= (pred == MYOCARDIUM) & (p_scar / np.maximum(p_wall, 1e-6) >= wall_t)
    scar = grow_from_lesions(pred >= SCAR, cand)
    return scar, (pred >= MYOCARDIUM) | scar


def intensity_growth(
    pred: np.ndarray, std: np.ndarray, a: float, d: int
) -> tuple[np.ndarray, np.ndarray]:
    scar, wall = pred >= SCAR, pred >= MYOCARDIUM
    if not scar.any():
        return scar, wall
    level = a * np.median(std[scar]) + (1 - a) * np.median(std[pred == BLOOD_POOL])
    out = scar.copy()
    for k in range(len(pred)):
        if scar[k].any():
            near = ndimage.binary_dilation(scar[k], structure=EIGHT, iterations=d)
            out[k] |= near & (pred[k] == BLOOD_POOL) & (std[k] >= level)
    return out, wall | out


RAYS = 120
RAY_STEP = 0.5  # pixels


def smooth_border_slice(pred: np.ndarray, margin: float) -> np.ndarray:
    """Blood-pool pixels of one slice between the predicted endocardial border and the border
    interpolated across the angles where the wall's inner edge is scar (needs a quarter of the
    angles with a healthy inner edge)."""
    wall, pool, scar = pred >= MYOCARDIUM, pred == BLOOD_POOL, pred >= SCAR
    none = np.zeros(pred.shape, dtype=bool)
    if not pool.any() or not scar.any():
        return none
    cy, cx = ndimage.center_of_mass(pool | wall)
    th = np.linspace(0, 2 * np.pi, RAYS, endpoint=False)
    rs = np.arange(0, max(pred.shape), RAY_STEP)
    coords = [cy + rs[None] * np.sin(th)[:, None], cx + rs[None] * np.cos(th)[:, None]]
    w = ndimage.map_coordinates(wall.astype(np.uint8), coords, order=0) > 0
    s = ndimage.map_coordinates(scar.astype(np.uint8), coords, order=0) > 0
    hit = w.any(1)
    first = np.where(hit, w.argmax(1), 0)
    r_endo = rs[first]
    at_scar = np.array([hit[i] and s[i, first[i] : first[i] + 4].any() for i in range(RAYS)])
    healthy = hit & ~at_scar
    if healthy.mean() < 0.25 or not at_scar.any():
        return none
    r_smooth = r_endo.copy()
    r_smooth[at_scar] = np.interp(th[at_scar], th[healthy], r_endo[healthy], period=2 * np.pi)
    yy, xx = np.mgrid[: pred.shape[0], : pred.shape[1]]
    ray = np.round(np.mod(np.arctan2(yy - cy, xx - cx), 2 * np.pi) / (2 * np.pi) * RAYS)
    ray = ray.astype(int) % RAYS
    rad = np.hypot(yy - cy, xx - cx)
    return pool & at_scar[ray] & (rad >= r_smooth[ray] - margin) & (rad < r_endo[ray])


def smooth_border(pred: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    add = np.stack([smooth_border_slice(p, margin) for p in pred])
    return (pred >= SCAR) | add, (pred >= MYOCARDIUM) | add


def no_reflow_dice(pred: np.ndarray, probs: np.ndarray, lab: np.ndarray, t: float) -> float:
    """No-reflow Dice (patients with reference no-reflow) or false no-reflow in thousands of
    voxels (nominal ml for EMIDEC PNG) for P(no-reflow | scar) >= t inside the scar."""
    p_scar, p_nr = probs[SCAR].astype(np.float32), probs[NO_REFLOW].astype(np.float32)
    nr = (pred >= SCAR) & (p_nr / np.maximum(p_scar + p_nr, 1e-6) >= t)
    ref = lab == NO_REFLOW
    return dice(nr, ref) if ref.any() else float(nr.sum()) / 1000.0


def nested_choice(rows: list[dict], options: tuple[float, ...], key: str) -> list[float]:
    """Each row's value under the option chosen on the OTHER folds' rows (max mean of key)."""
    out = []
    for r in rows:
        others = [o for o in rows if o["fold"] != r["fold"]]
        best = max(options, key=lambda t: np.nanmean([o[key][t] for o in others]))
        out.append(r[key][best])
    return out


def where_missed(lab: np.ndarray, pred: np.ndarray, std: np.ndarray) -> dict[str, np.ndarray]:
    """Distance (pixels) of the reference scar called blood pool from the predicted wall, and
    the standardised intensity there, in the scar found and in the true blood pool next to
    the wall (within 3 pixels)."""
    dist, missed, found, pool = [], [], [], []
    for k in range(len(lab)):
        wall = pred[k] >= MYOCARDIUM
        if not wall.any():
            continue
        d = ndimage.distance_transform_edt(~wall)
        m = (lab[k] >= SCAR) & (pred[k] == BLOOD_POOL)
        dist.append(d[m])
        missed.append(std[k][m])
        found.append(std[k][(lab[k] >= SCAR) & (pred[k] >= SCAR)])
        pool.append(std[k][(lab[k] == BLOOD_POOL) & (pred[k] == BLOOD_POOL) & (d <= 3)])
    cat = lambda v: np.concatenate(v) if v else np.zeros(0, np.float32)  # noqa: E731
    return {"d_missed": cat(dist), "i_missed": cat(missed), "i_found": cat(found),
            "i_pool": cat(pool)}  # fmt: skip


def rules() -> dict[str, tuple]:
    out: dict[str, tuple] = {"shipped decision": ("none",)}
    for t in (0.1, 0.2, 0.3, 0.4):
        out[f"grow into pool, P >= {t}"] = ("prob", t, ("pool",), None)
        out[f"grow into pool + bg, P >= {t}"] = ("prob", t, ("pool", "bg"), None)
    for wt in (0.3, 0.4):
        out[f"grow in wall, P(scar|wall) >= {wt}"] = ("prob", 1.1, (), wt)
    for m in (0.0, 1.0):
        out[f"smooth border, margin {m:g} px"] = ("border", m)
    for a in (0.5, 1.0):
        for d in (1, 2, 3):
            out[f"intensity a={a}, d={d}"] = ("intensity", a, d)
    return out


def score_patient(z: np.lib.npyio.NpzFile) -> dict:
    lab, pred, probs = z["lab"], z["pred"], z["probs"]
    std = z["std"].astype(np.float32)  # read once: every access decompresses it again
    ref_scar, ref_wall = lab >= SCAR, lab >= MYOCARDIUM
    row: dict = {"fold": int(z["fold"]), "ref_b": burden(ref_scar, ref_wall), "rules": {}}
    p_scar = probs[SCAR:].astype(np.float32).sum(0)
    row["p_missed"] = p_scar[ref_scar & (pred == BLOOD_POOL)]
    row["p_pool"] = p_scar[(lab == BLOOD_POOL) & (pred == BLOOD_POOL)]
    row.update(where_missed(lab, pred, std))
    for name, rule in rules().items():
        if rule[0] == "none":
            scar, wall = pred >= SCAR, pred >= MYOCARDIUM
        elif rule[0] == "prob":
            scar, wall = probability_growth(pred, probs, *rule[1:])
        elif rule[0] == "border":
            scar, wall = smooth_border(pred, *rule[1:])
        else:
            scar, wall = intensity_growth(pred, std, *rule[1:])
        row["rules"][name] = (
            dice(scar, ref_scar) if ref_scar.any() else np.nan,
            dice(wall, ref_wall),
            abs(burden(scar, wall) - row["ref_b"]),
            burden(scar, wall),
        )
    row["has_nr"] = bool((lab == NO_REFLOW).any())
    row["nr"] = {t: no_reflow_dice(pred, probs, lab, t) for t in NR_THRESHOLDS}
    row["nr_rules"] = no_reflow_rules(pred, lab, std)
    return row


def no_reflow_rules(pred: np.ndarray, lab: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """The pipeline's no-reflow (learned class), the dark-core rule on the same scar, their union
    and intersection: Dice, or false no-reflow (thousands of voxels) without reference."""
    scar = pred >= SCAR
    net = pred == NO_REFLOW
    rule = dark_core_no_reflow(std, pred >= MYOCARDIUM, scar) if scar.any() else np.zeros_like(net)
    ref = lab == NO_REFLOW
    masks = {"learned": net, "dark-core rule": rule, "union": net | rule, "both": net & rule}
    return {k: dice(m, ref) if ref.any() else float(m.sum()) / 1000.0 for k, m in masks.items()}


def report(rows: list[dict], centre: str) -> list[str]:
    pos = [r for r in rows if r["ref_b"] > 0]
    normal = [r for r in rows if r["ref_b"] == 0]
    missed = np.concatenate([r["p_missed"] for r in rows])
    pool = np.concatenate([r["p_pool"] for r in rows])
    out = [f"\n{centre}: {len(rows)} patients ({len(pos)} with scar, {len(normal)} normal)"]
    for q in (0.1, 0.2, 0.3, 0.4):
        out.append(
            f"  P(scar)+P(no-reflow) >= {q}: {100 * np.mean(missed >= q):.1f} % of the reference "
            f"scar called blood pool, {100 * np.mean(pool >= q):.2f} % of the true blood pool"
        )
    q = np.percentile(np.concatenate([r["d_missed"] for r in rows]), [25, 50, 75])
    out.append(f"  that scar lies {q[0]:.1f} / {q[1]:.1f} / {q[2]:.1f} pixels (quartiles) from the "
               "predicted wall")  # fmt: skip
    for name in ("missed", "found", "pool"):
        v = np.concatenate([r[f"i_{name}"] for r in rows])
        label = {"missed": "scar called blood pool", "found": "scar found",
                 "pool": "true blood pool within 3 px of the wall"}[name]  # fmt: skip
        out.append(f"  standardised intensity, {label}: median {np.median(v):.3f}")
    out.append(f"  {'rule':36s} scar Dice  wall Dice  burden err  normals < 1 %")
    for name in rules():
        v = np.array([r["rules"][name] for r in rows], dtype=float)
        sd = np.nanmean([r["rules"][name][0] for r in pos]) if pos else np.nan
        sp = np.mean([r["rules"][name][3] < 1.0 for r in normal]) if normal else np.nan
        out.append(f"  {name:36s} {sd:.3f}      {v[:, 1].mean():.3f}      {v[:, 2].mean():.2f}"
                   f"        {sp:.2f}")  # fmt: skip
    nr_pos = [r for r in rows if r["has_nr"]]
    if nr_pos:
        nr_neg = [r for r in rows if not r["has_nr"]]
        shipped = np.array([r["nr"][0.5] for r in nr_pos])
        nested = np.array(nested_choice(nr_pos, NR_THRESHOLDS, "nr"))
        p = wilcoxon(nested, shipped).pvalue if np.any(nested != shipped) else 1.0
        out.append(
            f"  no-reflow Dice ({len(nr_pos)} patients): threshold 0.5 {shipped.mean():.3f}, "
            f"nested choice {nested.mean():.3f} (Wilcoxon p {p:.2f}, better on "
            f"{int((nested > shipped).sum())})"
        )
        for name in nr_pos[0]["nr_rules"]:
            false = [r["nr_rules"][name] for r in nr_neg]
            out.append(
                f"    {name}: Dice {np.mean([r['nr_rules'][name] for r in nr_pos]):.3f}, "
                f"false no-reflow {np.mean(false):.3f} ml* on {sum(f > 0 for f in false)} of "
                f"{len(false)} without"
            )
        for t in NR_THRESHOLDS:
            false = [r["nr"][t] for r in nr_neg]
            out.append(
                f"    P(no-reflow | scar) >= {t}: Dice {np.mean([r['nr'][t] for r in nr_pos]):.3f}, "
                f"false no-reflow {np.mean(false):.3f} ml* on {sum(f > 0 for f in false)} of "
                f"{len(false)} without"
            )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probs", default="runs/probs", help="folder of dump_cv_probs.py's npz")
    args = ap.parse_args()
    files = sorted(Path(args.probs).glob("*.npz"))
    if not files:
        ap.error(f"no npz files in {args.probs}: run bench/dump_cv_probs.py first")
    by_centre: dict[str, list[dict]] = {"EMIDEC PNG": [], "MyoPS": []}
    for f in files:
        with np.load(f) as z:
            by_centre["MyoPS" if f.name.startswith("myops") else "EMIDEC PNG"].append(
                score_patient(z)
            )
    for centre, rows in by_centre.items():
        if rows:
            print("\n".join(report(rows, centre)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
