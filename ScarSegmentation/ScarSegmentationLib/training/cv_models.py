"""Assemble one model folder per cross-validation fold from the fold runs of train_unet --fold:

    python -m ScarSegmentationLib.training.cv_models [--runs ../runs/cv] [--folds 0,1,2,3,4]
        [--scar-run scar_nr] [--fill-from-installed scar_detector,sam_encoder,scar_segmenter]
    python -m ScarSegmentationLib.training.cv_models --install ../Resources/Models \
        [--names scar_unet]

For fold k: `<runs>/roi_fold<k>/final.pt` -> `lv_roi`, `<runs>/<scar-run>_fold<k>/final.pt` ->
`scar_unet` (stage 2 and the scar head), exported to ONNX in `<runs>/fold<k>/` with their
checksums; bench/bench_cv.py then runs fold k's held-out patients on that folder. Each exported
config records the fold it was trained for, which bench_cv checks.

Stages without fold models are absent from the folder (the anatomy stage is then skipped, like
an installation without it). `--fill-from-installed` copies the named installed runtime files
instead: those were trained on the split.json train patients, most of whom are held out in some
fold, so numbers with them are optimistic for what they add; the folder's PROVENANCE.json lists
them and bench_cv prints the warning.

--install DIR puts the fold models of lv_roi and scar_unet (or those `--names` lists) into DIR as
ensembles (runtime/ensemble.py): `<name>-fold<k>.pt/.onnx` and `<name>.ensemble.json`.

--combine A B [...] --dest D: for each fold k, a folder D/fold<k> whose scar_unet is the ensemble
of the scar_unet of the assembled fold folders A, B, ... (patterns with {k}; every member trained
for fold k, so the ensemble is still cross-validated) and whose other files are A's: two
variants of one fold, averaged, scored by bench_cv like a single fold model.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from .. import weights
from .export import export, record_checksum
from .export_onnx import export_unet

PROVENANCE = "PROVENANCE.json"
FOLD_MODELS = ("lv_roi", "scar_unet")  # the models a fold folder holds and --install installs


def installed_files(name: str) -> list[Path]:
    """The runtime files of one installed model (an anatomy model has several)."""
    from ..anatomy import model as anatomy_model

    folder = weights.models_dir()
    if name == "anatomy":
        return [folder / f for f in anatomy_model.FILES]
    return [folder / f"{name}.onnx"]


def assemble(
    runs: Path,
    fold: int,
    scar_run: str = "scar_nr",
    fill: tuple[str, ...] = (),
    dest: str = "",
) -> Path:
    out = Path(dest.format(k=fold)) if dest else runs / f"fold{fold}"
    out.mkdir(parents=True, exist_ok=True)
    sources = {"lv_roi": runs / f"roi_fold{fold}" / "final.pt",
               "scar_unet": runs / f"{scar_run}_fold{fold}" / "final.pt"}  # fmt: skip
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"fold {fold}: not trained yet ({', '.join(missing)} missing)")
    for name, ck in sources.items():
        export(ck, name, out)
        export_unet(name, out)
    filled = []
    for name in fill:
        for src in installed_files(name):
            shutil.copy2(src, out / src.name)
            record_checksum(out / src.name)
            filled.append(src.name)
    (out / PROVENANCE).write_text(
        json.dumps(
            {
                "fold": fold,
                "trained_for_this_fold": {n: str(p) for n, p in sources.items()},
                "installed_not_cross_validated": filled,
            },
            indent=1,
        )
        + "\n"
    )
    return out


def install_ensemble(
    runs: Path, folds: list[int], target: Path, names: tuple[str, ...] = FOLD_MODELS
) -> list[Path]:
    """Every fold's `<name>.pt` of `<runs>/fold<k>` -> `<target>/<name>-fold<k>.pt`, exported
    to ONNX there, and the manifest `<name>.ensemble.json` listing them (what the pipeline
    loads instead of `<name>.onnx`); checksums recorded."""
    from ..runtime.ensemble import write_manifest

    written = []
    for name in names:
        members = []
        for k in folds:
            member = f"{name}-fold{k}"
            dst = target / f"{member}.pt"
            shutil.copy2(runs / f"fold{k}" / f"{name}.pt", dst)
            record_checksum(dst)
            written += [dst, export_unet(member, target)]
            members.append(f"{member}.onnx")
        about = (
            f"the {len(folds)} cross-validation fold models of {name} (folds.json); each was "
            "trained on the other folds' patients"
        )
        manifest = write_manifest(weights.ensemble_manifest(name, target), members, about)
        record_checksum(manifest)
        written.append(manifest)
    return written


def combine(sources: list[str], fold: int, dest: str) -> Path:
    """Fold folder `dest` (pattern with {k}): the first source's files, with scar_unet replaced
    by the ensemble of every source's scar_unet for this fold."""
    from ..runtime.ensemble import write_manifest

    dirs = [Path(s.format(k=fold)) for s in sources]
    out = Path(dest.format(k=fold))
    if out.resolve() in [d.resolve() for d in dirs]:
        raise SystemExit(f"--dest {out} is one of the sources: give a new folder")
    missing = [str(d / "scar_unet.onnx") for d in dirs if not (d / "scar_unet.onnx").is_file()]
    if missing:
        raise SystemExit(f"fold {fold}: not assembled yet ({', '.join(missing)} missing)")
    out.mkdir(parents=True, exist_ok=True)
    for f in dirs[0].glob("*.onnx"):
        if not f.name.startswith("scar_unet"):
            shutil.copy2(f, out / f.name)
            record_checksum(out / f.name)
    members = []
    for i, d in enumerate(dirs):
        shutil.copy2(d / "scar_unet.onnx", out / f"scar_unet-{i}.onnx")
        record_checksum(out / f"scar_unet-{i}.onnx")
        members.append(f"scar_unet-{i}.onnx")
    about = f"fold {fold}: the scar_unet of {', '.join(str(d) for d in dirs)}"
    record_checksum(write_manifest(weights.ensemble_manifest("scar_unet", out), members, about))
    provenance = dirs[0] / PROVENANCE  # which copied files are installed, not fold-trained
    info = json.loads(provenance.read_text()) if provenance.is_file() else {"fold": fold}
    info["scar_unet_ensemble_of"] = [str(d) for d in dirs]
    (out / PROVENANCE).write_text(json.dumps(info, indent=1) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("../runs/cv"))
    ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--scar-run", default="scar_nr", help="fold run prefix of the stage-2 net")
    ap.add_argument("--fill-from-installed", default="", help="comma-separated model names")
    ap.add_argument("--dest", default="", help="folder pattern with {k} (default <runs>/fold{k})")
    ap.add_argument(
        "--install",
        type=Path,
        default=None,
        metavar="DIR",
        help="instead: install the assembled folds' lv_roi and scar_unet into DIR as ensembles",
    )
    ap.add_argument("--names", default=",".join(FOLD_MODELS), help="with --install: which models")
    ap.add_argument(
        "--combine",
        nargs="+",
        metavar="PATTERN",
        help="instead: ensemble the scar_unet of these assembled fold folders ({k}) into --dest",
    )
    args = ap.parse_args(argv)
    folds = [int(x) for x in args.folds.split(",")]
    if args.combine:
        if not args.dest or len(args.combine) < 2:
            raise SystemExit("--combine needs two or more fold folder patterns and --dest")
        for k in folds:
            print(combine(args.combine, k, args.dest))
        return 0
    if args.install is not None:
        names = tuple(n for n in args.names.split(",") if n)
        unknown = sorted(set(names) - set(FOLD_MODELS))
        if unknown:
            raise SystemExit(f"--names: no fold models of {', '.join(unknown)}")
        for path in install_ensemble(args.runs, folds, args.install, names):
            print(path)
        return 0
    fill = tuple(n for n in args.fill_from_installed.split(",") if n)
    for k in folds:
        print(assemble(args.runs, k, args.scar_run, fill, args.dest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
