"""Cross-validated shipped pipeline: each fold's held-out patients with that fold's models.

    .venv/bin/python bench/bench_cv.py --models 'runs/cv/fold{k}' [--scar-method unet] [--mc 4]
        [--threads 2] [--folds 0,1,2,3,4] [--limit N per centre and fold] [--out runs/bench_cv.tsv]
    .venv/bin/python bench/bench_cv.py --same-models-for-all-folds --folds 0,1 --limit 1  # smoke
    .venv/bin/python bench/bench_cv.py --models 'runs/cv/fold{k}' --prior-powers 1,0.75,0.5,0.25
    .venv/bin/python bench/bench_cv.py --same-models-for-all-folds --split-parts val,test

Folds: Resources/Models/folds.json (ScarSegmentationLib.data.folds; k = 0..4). `--models` is a
pattern with {k}: one folder per fold (training.cv_models assembles them) holding the runtime
files of stages 1-2 and of the scar method, trained on the other four folds; the pipeline
(factory.build_pipeline) loads them through SCARSEG_MODELS. A missing folder or file, or a U-Net
whose config names another fold, stops the run (exit 1). Without anatomy files the anatomy stage
is skipped. Files a folder's PROVENANCE.json lists as installed (not cross-validated) are
printed as a warning above the table. `--same-models-for-all-folds` runs every fold with
the installed Resources/Models: NOT cross-validated (those models saw most held-out patients),
only a smoke test of this script, except with `--split-parts val,test`: only the held-out
patients in those parts of Resources/Models/split.json, which the installed networks were not
trained on, so the installed models and the fold models can be compared on the same unseen
patients (the val part chose the installed checkpoints: mildly optimistic for them).

Studies: bench_myocardium.studies_for (EMIDEC PNG slices, spacing lost: Hausdorff in pixels and
false scar in nominal 1 mm^3 voxels, ml*; MyoPS NIfTI in mm). Per patient: bench_pipeline.measure
plus no-reflow Dice, false scar volume and reference scar outside the predicted myocardium.
Per centre and fold: myocardium / blood pool Dice (all patients), scar Dice (patients with
reference scar), no-reflow Dice (patients with reference no-reflow), myocardium Hausdorff, burden
absolute error mean and median (all patients, percentage points), Bland-Altman bias and 95 %
limits of burden (all patients), false scar on normal hearts (ml, and the share below 1 % burden),
reference scar voxels outside the predicted myocardium / all reference scar voxels (%), and the
share of those in the predicted blood pool (scarred wall cut out into the cavity). The table
shows mean +- SD across folds.

`--variant noise` (or any variant of bench_robustness.py: gamma1.6, rot90, ...) scores the
held-out studies shown differently, for robustness per fold.

Decision grid (`--prior-powers P1,P2,...`, scar method unet): the pipeline runs once per power
of the class-weight correction (PipelineOptions.prior_power; the networks' passes are the same,
same seed), the table shows the first; every power adds columns myo_dice@pP, bp_dice@pP and, for
each scar threshold T of SCAR_THRESHOLDS on its "Scar probability" map, scar_dice@pP/tT and
burden@pP/tT. bench/calibrate_decision.py chooses among them by nested cross-validation.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the command line does

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(REPO / "bench"),
    str(REPO / "ScarSegmentation"),
    str(REPO / "ScarQuantification"),
]

from bench_myocardium import studies_for  # noqa: E402
from bench_pipeline import burden, measure  # noqa: E402
from bench_robustness import variant  # noqa: E402
from ScarQuantificationLib.evaluate_report import agreement  # noqa: E402
from ScarQuantificationLib.metrics import dice, volume_ml  # noqa: E402
from ScarQuantificationLib.no_reflow import dark_core_no_reflow  # noqa: E402
from ScarSegmentationLib import weights  # noqa: E402
from ScarSegmentationLib.data import load_split  # noqa: E402
from ScarSegmentationLib.data.folds import load_folds  # noqa: E402
from ScarSegmentationLib.errors import NoHeartFoundError  # noqa: E402
from ScarSegmentationLib.pipeline import PipelineOptions  # noqa: E402
from ScarSegmentationLib.scar.presence import PresenceRule, apply_presence  # noqa: E402

INSTALLED = REPO / "Resources" / "Models"
CENTRES = ("EMIDEC PNG", "MyoPS")


def required_files(scar_method: str = "auto") -> list[str]:
    """What a fold folder must hold: stages 1-2 (the joint scar net as stage 2) and the scar
    method's networks, with their checksums."""
    from ScarSegmentationLib.factory import AUTO_SCAR_METHOD, SCAR_WEIGHTS

    method = AUTO_SCAR_METHOD if scar_method == "auto" else scar_method
    names = {"lv_roi", "scar_unet", *SCAR_WEIGHTS.get(method, ())}
    return sorted([*(f"{n}.onnx" for n in names), "checksums.sha256"])


def leaky_files(d: Path) -> list[str]:
    """Installed (not cross-validated) files a fold folder's PROVENANCE.json lists."""
    prov = d / "PROVENANCE.json"
    if not prov.is_file():
        return []
    return list(json.loads(prov.read_text()).get("installed_not_cross_validated", []))


def check_models(dirs: list[Path], scar_method: str = "auto") -> list[str]:
    """One line per missing fold folder or file (empty when all are there)."""
    need = required_files(scar_method)
    problems = []
    for k, d in enumerate(dirs):
        if not d.is_dir():
            problems.append(f"fold {k}: model folder {d} not found")
            continue
        # a model counts as present as a single .onnx or as an ensemble manifest
        missing = [
            f
            for f in need
            if not (d / f).is_file()
            and not (f.endswith(".onnx") and weights.available(f.removesuffix(".onnx"), d))
        ]
        if missing:
            problems.append(f"fold {k}: {d} lacks {', '.join(missing)}")
    return problems


# scar-presence rules evaluated on every study (bench/calibrate_presence.py chooses among them)
PRESENCE_GRID = [
    PresenceRule(lesion, burden, prob)
    for lesion in (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
    for burden in (0.0, 0.5, 1.0, 2.0, 3.0, 4.0)
    for prob in (0.0, 0.7, 0.8)
]


def presence_columns(
    scar: np.ndarray, myo: np.ndarray, lab: np.ndarray, prob: np.ndarray | None
) -> dict[str, float]:
    """Burden and scar Dice of the study under each rule of PRESENCE_GRID. Without a scar
    probability map (no heart found, a method without one) every lesion counts as certain."""
    ref_scar = lab >= 3
    prob = scar.astype(np.float32) if prob is None else prob
    out = {}
    for rule in PRESENCE_GRID:
        kept = apply_presence(scar, myo, rule, prob).scar
        out[f"burden@{rule.name}"] = burden(kept, myo)
        out[f"scar_dice@{rule.name}"] = dice(kept, ref_scar) if ref_scar.any() else np.nan
    return out


# thresholds on P(scar | myocardium) scored for every prior power of the decision grid
SCAR_THRESHOLDS = (0.3, 0.4, 0.5, 0.6)


def decision_columns(result, lab: np.ndarray, power: float) -> dict[str, float]:
    """Myocardium / blood pool Dice and, per threshold of SCAR_THRESHOLDS, scar Dice and burden
    of one run of the decision grid (scar = myocardium where P(scar | myocardium) >= T)."""
    m = result.masks
    myo = m["Myocardium"]
    prob = getattr(result, "maps", {}).get("Scar probability")
    ref_scar = lab >= 3
    out = {
        f"myo_dice@p{power:g}": dice(myo, lab >= 2),
        f"bp_dice@p{power:g}": dice(m["Blood pool"], lab == 1),
    }
    for t in SCAR_THRESHOLDS:
        scar = myo & (prob >= t) if prob is not None else np.zeros_like(myo)
        out[f"burden@p{power:g}/t{t:g}"] = burden(scar, myo)
        out[f"scar_dice@p{power:g}/t{t:g}"] = dice(scar, ref_scar) if ref_scar.any() else np.nan
    return out


def measure_cv(result, lab: np.ndarray, spacing) -> dict[str, float]:
    row = measure(result, lab, spacing)
    m = result.masks
    myo = m["Myocardium"]
    scar = m.get("Scar", np.zeros_like(myo))
    ref_scar, ref_nr = lab >= 3, lab == 4
    nr = m.get("No-reflow", np.zeros_like(myo))
    row["nr_dice"] = dice(nr, ref_nr) if ref_nr.any() else np.nan
    row["nr_ml"] = volume_ml(nr, spacing)
    # the dark-core rule on the same scar (what a net without a no-reflow class gets)
    rule = dark_core_no_reflow(result.study.image, myo, scar) if scar.any() else np.zeros_like(nr)
    row["nr_rule_dice"] = dice(rule, ref_nr) if ref_nr.any() else np.nan
    row["nr_rule_ml"] = volume_ml(rule, spacing)
    row["scar_ml"] = volume_ml(scar, spacing)
    row["ref_scar_vox"] = int(ref_scar.sum())
    outside = ref_scar & ~myo.astype(bool)
    row["ref_scar_outside_vox"] = int(outside.sum())
    # where it went: the blood pool (enhanced wall cut out into the cavity) or outside the heart
    pool = m.get("Blood pool", np.zeros_like(myo)).astype(bool)
    row["ref_scar_in_pool_vox"] = int((outside & pool).sum())
    prob = getattr(result, "maps", {}).get("Scar probability")
    row.update(presence_columns(scar, myo, lab, prob))
    return row


def nothing_found(study) -> SimpleNamespace:  # noqa: ANN001
    """A result with empty masks for a study the pipeline found no heart in: it scores Dice 0
    and its whole reference burden as error, instead of dropping out of the table."""
    empty = np.zeros(study.image.shape, dtype=bool)
    masks = {"Myocardium": empty, "Blood pool": empty}
    return SimpleNamespace(masks=masks, slice_info={}, seconds={}, study=study)


def fold_stats(rows: list[dict]) -> dict[str, float]:
    """The table's numbers for one fold and centre."""

    def mean(key: str, rs: list[dict]) -> float:
        v = [r[key] for r in rs if np.isfinite(r[key])]
        return float(np.mean(v)) if v else np.nan

    path = [r for r in rows if r["ref_burden"] > 0]
    normal = [r for r in rows if r["ref_burden"] == 0]
    # MyoPS does not label no-reflow: no false no-reflow there
    no_nr = [r for r in rows if r["centre"] != "MyoPS" and not np.isfinite(r["nr_dice"])]
    err = [abs(r["pred_burden"] - r["ref_burden"]) for r in rows]
    ba = agreement([r["pred_burden"] for r in rows], [r["ref_burden"] for r in rows])
    ref_vox = sum(r["ref_scar_vox"] for r in rows)
    return {
        "myocardium Dice": mean("myo_dice", rows),
        "blood pool Dice": mean("bp_dice", rows),
        "scar Dice (patients with scar)": mean("scar_dice", path),
        "no-reflow Dice (patients with no-reflow)": mean("nr_dice", rows),
        "false no-reflow on patients without (ml, * nominal)": mean("nr_ml", no_nr),
        "no-reflow Dice, dark-core rule on the same scar": mean("nr_rule_dice", rows),
        "false no-reflow, dark-core rule (ml, * nominal)": mean("nr_rule_ml", no_nr),
        "myocardium Hausdorff (px PNG / mm)": mean("myo_hd", rows),
        "burden abs. error mean (pp)": float(np.mean(err)) if err else np.nan,
        "burden abs. error median (pp)": float(np.median(err)) if err else np.nan,
        "burden Bland-Altman bias (pp)": ba.bias,
        "burden BA 95% limit low (pp)": ba.loa_low,
        "burden BA 95% limit high (pp)": ba.loa_high,
        "false scar on normal hearts (ml, * nominal)": mean("scar_ml", normal),
        "normal hearts with burden < 1 % (share)": (
            float(np.mean([r["pred_burden"] < 1.0 for r in normal])) if normal else np.nan
        ),
        "ref. scar outside predicted myocardium (%)": (
            100.0 * sum(r["ref_scar_outside_vox"] for r in rows) / ref_vox if ref_vox else np.nan
        ),
        "ref. scar in the predicted blood pool (%)": (
            100.0 * sum(r["ref_scar_in_pool_vox"] for r in rows) / ref_vox
            if ref_vox and all("ref_scar_in_pool_vox" in r for r in rows)
            else np.nan  # rows written before the column existed
        ),
    }


def table(rows: list[dict], folds: list[int]) -> list[str]:
    """Per centre: mean +- SD across folds (folds with a value), and the value pooled over all
    held-out patients of the centre (Bland-Altman limits need the pooled patients)."""
    per = {
        c: [fold_stats([r for r in rows if r["fold"] == k and r["centre"] == c]) for k in folds]
        for c in CENTRES
    }
    pooled = {c: fold_stats([r for r in rows if r["centre"] == c]) for c in CENTRES}
    n = {c: sum(r["centre"] == c for r in rows) for c in CENTRES}
    head = " | ".join(f"{c} ({n[c]} patients): folds | pooled" for c in CENTRES)
    out = [f"| metric (mean +- SD across {len(folds)} folds; pooled) | {head} |", "|---|---|---|"]
    for key in per[CENTRES[0]][0]:
        cells = []
        for c in CENTRES:
            v = np.array([s[key] for s in per[c]], dtype=float)
            v = v[np.isfinite(v)]
            sd = v.std(ddof=1) if len(v) > 1 else np.nan
            cell = f"{v.mean():.3f} +- {sd:.3f} ({len(v)})" if len(v) else "n/a"
            cells.append(f"{cell}; {pooled[c][key]:.3f}")
        out.append(f"| {key} | {' | '.join(cells)} |")
    return out


def write_rows(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        first = ("fold", "centre", "patient")
        keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in first, k))
        w = csv.DictWriter(f, keys, delimiter="\t")
        w.writeheader()
        w.writerows(rows)


def read_rows(paths: list[str]) -> list[dict]:
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                row: dict = {"centre": r.pop("centre"), "patient": r.pop("patient")}
                row["fold"] = int(r.pop("fold"))
                row.update({k: float(v) if v not in ("", "nan") else np.nan for k, v in r.items()})
                rows.append(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="per-fold model folder pattern with {k}, e.g. runs/cv/fold{k}")
    ap.add_argument(
        "--same-models-for-all-folds",
        action="store_true",
        help="every fold with the installed Resources/Models: NOT cross-validated (smoke test)",
    )
    ap.add_argument("--folds", default="0,1,2,3,4", help="comma-separated fold indices")
    ap.add_argument(
        "--limit",
        type=int,
        default=0,
        help="at most N held-out patients per centre and fold (smoke runs)",
    )
    ap.add_argument(
        "--scar-method", default="unet", help="pipeline scar method (default: %(default)s)"
    )
    ap.add_argument(
        "--scar-presence",
        action="store_true",
        help="run the shipped scar-presence rule (default off: the table shows the networks' "
        "scar, and every rule of PRESENCE_GRID is scored for calibrate_presence.py)",
    )
    ap.add_argument(
        "--prior-powers",
        default="",
        help="comma-separated class-weight correction powers (decision grid, scar method unet; "
        "the first one makes the table)",
    )
    ap.add_argument(
        "--split-parts",
        default="",
        help="only held-out patients in these parts of split.json, e.g. val,test (the patients "
        "the installed networks were not trained on)",
    )
    ap.add_argument(
        "--variant",
        default="as_is",
        help="score the held-out studies shown differently (bench_robustness.py's variants, "
        "e.g. noise, gamma1.6, rot90; labels moved with the image)",
    )
    ap.add_argument("--mc", type=int, default=PipelineOptions.mc_samples)
    ap.add_argument("--threads", type=int, default=PipelineOptions.threads)
    ap.add_argument("--seed", type=int, default=PipelineOptions.seed, help="MC-dropout seed")
    ap.add_argument("--out", default=str(REPO / "runs" / "bench_cv.tsv"))
    ap.add_argument(
        "--table-from",
        nargs="+",
        metavar="TSV",
        help="print the table of earlier runs' per-patient rows (e.g. folds run separately) "
        "and write them together to --out (with --split-parts: those patients only); nothing "
        "is run",
    )
    args = ap.parse_args()
    parts = [x.strip() for x in args.split_parts.split(",") if x.strip()]
    split = load_split()
    if any(p not in ("train", "val", "test") for p in parts):
        ap.error(f"--split-parts {args.split_parts}: parts of split.json are train, val, test")
    only = {pid for p in parts for pid in split[p]} if parts else None
    if args.table_from:
        rows = [r for r in read_rows(args.table_from) if only is None or r["patient"] in only]
        write_rows(rows, Path(args.out))
        folds = sorted({r["fold"] for r in rows})
        print(f"{len(rows)} studies from {len(args.table_from)} file(s), folds {folds}")
        print("\n".join(table(rows, folds)))
        return 0

    powers = [float(x) for x in args.prior_powers.split(",") if x.strip()]
    if powers and args.scar_method != "unet":
        ap.error("--prior-powers scores thresholds of the U-Net scar head: --scar-method unet")
    if any(not 0.0 <= p <= 1.0 for p in powers):
        ap.error(f"--prior-powers {args.prior_powers}: values in [0, 1] are expected")
    if bool(args.models) == args.same_models_for_all_folds:
        ap.error("give exactly one of --models PATTERN and --same-models-for-all-folds")
    all_folds = load_folds()
    folds = [int(x) for x in args.folds.split(",")]
    unseen_only = bool(args.split_parts) and "train" not in args.split_parts
    if args.same_models_for_all_folds:
        if not unseen_only:
            print(
                "WARNING: --same-models-for-all-folds: every fold runs the installed "
                "Resources/Models, which were trained on most of these patients. NOT "
                "cross-validated: smoke test only."
            )
        dirs = [INSTALLED for _ in folds]
    else:
        dirs = [Path(args.models.format(k=k)) for k in folds]
    problems = check_models(dirs, args.scar_method)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print("fold models missing: train them first (see docs/DEVELOPING.md)", file=sys.stderr)
        return 1

    from ScarSegmentationLib.factory import build_pipeline

    options = PipelineOptions(
        seed=args.seed,
        mc_samples=args.mc,
        threads=args.threads,
        scar_method=args.scar_method,
        scar_presence=args.scar_presence,
        prior_power=powers[0] if powers else PipelineOptions.prior_power,
    )
    leaky = {d: leaky_files(d) for d in dirs}  # copied from the installation: not fold-checked
    warnings = sorted({f for files in leaky.values() for f in files})
    rows = []
    for k, d in zip(folds, dirs, strict=True):
        held = [p for p in all_folds[k] if only is None or p in only]
        if args.limit:
            held = [p for p in held if p.startswith("emidec/")][: args.limit] + [
                p for p in held if p.startswith("myops/")
            ][: args.limit]
        os.environ["SCARSEG_MODELS"] = str(d.resolve())
        pipeline = build_pipeline(options)
        if not args.same_models_for_all_folds:
            for name in (n for n in ("lv_roi", "scar_unet") if f"{n}.onnx" not in leaky[d]):
                config = weights.load_model(name).config  # an ensemble lists its members'
                trained_for = config.get("folds", [config.get("fold")])
                if set(trained_for) != {k}:
                    print(f"fold {k}: {d}/{name}.onnx was trained for fold {trained_for}",
                          file=sys.stderr)  # fmt: skip
                    return 1
        items = studies_for(held, nifti=False)
        print(f"fold {k}: {len(items)} held-out patients, models {d}", flush=True)
        for centre, pid, study, lab in items:
            study, lab = variant(args.variant, study, lab)
            failed = 0
            try:
                result = pipeline.run(study)
            except NoHeartFoundError as exc:  # counted as a study with nothing found
                print(f"{pid}: {exc}", file=sys.stderr)
                result, failed = nothing_found(study), 1
            row = measure_cv(result, lab, study.spacing)
            for i, power in enumerate(powers):
                other = result
                if i > 0 and not failed:
                    pipeline.options = dataclasses.replace(options, prior_power=power)
                    other = pipeline.run(study)
                    pipeline.options = options
                row.update(decision_columns(other, lab, power))
            rows.append({"fold": k, "centre": centre, "patient": pid, "failed": failed, **row})

    write_rows(rows, Path(args.out))
    mode = (
        "NOT CROSS-VALIDATED (same models for all folds)"
        if args.same_models_for_all_folds and not unseen_only
        else "held-out patients"
    )
    if parts:
        mode += f"; only the split.json {'+'.join(parts)} patients"
    print(
        f"\n{mode}; {len(rows)} studies ({sum(r['failed'] for r in rows)} with no heart found, "
        f"scored as empty); scar method {args.scar_method}; MC samples {args.mc}; "
        f"per-patient rows: {args.out}"
    )
    if warnings:
        print(f"WARNING: installed models in the fold folders, NOT cross-validated: {warnings}")
    print(
        "* EMIDEC PNG slices have no spacing: Hausdorff in pixels, volumes in nominal 1 mm^3 voxels"
    )
    print("\n".join(table(rows, folds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
