"""Per-patient scar morphology features for research classifiers (e.g. acute vs chronic infarcts).

Shape and transmurality come from the same functions as the lesion table (lesions.py,
transmurality.py), so a feature means the same as the column it summarises:
- scar_volume_ml, no_reflow_volume_ml, myocardium_volume_ml: voxel count x voxel volume;
- scar_burden_pct: scar as % of myocardium voxels;
- components_3d: 26-connected scar components; components_2d: 8-connected ones summed over slices;
- solidity_mean, circularity_mean: means over the 2D components weighted by their area, so specks
  do not dominate (circularity with the Crofton perimeter, as in lesions.py);
- transmurality_mean / _max and scar_extent_pct: over the radial chords of every scar slice;
- enhancement_ratio (when an image is given): median scar / median non-scar myocardium intensity.
Undefined values (no scar: no shape) are NaN; xgboost treats NaN as missing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .evaluate_io import CaseFiles, find_cases
from .label_maps import read_image, read_label_map, to_masks
from .lesions import label_2d, label_3d, shape_2d
from .transmurality import chord_fractions, chord_samples, chord_summary, lv_centre

FEATURES: dict[str, str] = {
    "scar_volume_ml": "ml",
    "scar_burden_pct": "%",
    "components_3d": "",
    "components_2d": "",
    "solidity_mean": "",
    "circularity_mean": "",
    "transmurality_mean": "",
    "transmurality_max": "",
    "scar_extent_pct": "%",
    "no_reflow_volume_ml": "ml",
    "myocardium_volume_ml": "ml",
    "enhancement_ratio": "",
}


def _weighted_mean(values: list[float | None], weights: list[float]) -> float:
    pairs = [
        (v, w) for v, w in zip(values, weights, strict=True) if v is not None and math.isfinite(v)
    ]
    if not pairs:
        return math.nan
    v, w = np.array(pairs, dtype=float).T
    return float((v * w).sum() / w.sum())


def scar_features(
    masks: Mapping[str, np.ndarray], spacing: Sequence[float], image: np.ndarray | None = None
) -> dict[str, float]:
    """Features of one patient from canonical masks ("Myocardium", "Scar", optional "Blood pool",
    "No-reflow") on a (k, j, i) grid with spacing (i, j, k) mm."""
    myo = np.asarray(masks["Myocardium"], bool)
    scar = np.asarray(masks["Scar"], bool) & myo
    bp = masks.get("Blood pool")
    voxel_ml = float(np.prod(spacing)) / 1000.0
    pixel = (float(spacing[1]), float(spacing[0]))  # (row, col) mm
    n_myo, n_scar = int(myo.sum()), int(scar.sum())
    out = {k: math.nan for k in FEATURES}
    out |= {
        "scar_volume_ml": n_scar * voxel_ml,
        "scar_burden_pct": 100.0 * n_scar / n_myo if n_myo else math.nan,
        "components_3d": float(label_3d(scar)[1]),
        "no_reflow_volume_ml": int(np.sum(np.asarray(masks.get("No-reflow", 0), bool) & myo))
        * voxel_ml,
        "myocardium_volume_ml": n_myo * voxel_ml,
    }
    solidity, circularity, areas, fractions = [], [], [], []
    for k in np.flatnonzero(scar.any(axis=(1, 2))):
        lab, n = label_2d(scar[k])
        for j in range(1, n + 1):
            comp = lab == j
            shape = shape_2d(comp)
            solidity.append(shape["solidity"])
            circularity.append(shape["circularity"])
            areas.append(float(comp.sum()))
        centre = lv_centre(myo[k], None if bp is None else np.asarray(bp[k], bool))
        if centre is not None:
            samples = chord_samples(myo[k], centre, pixel)
            fractions.append(chord_fractions(samples, myo[k], scar[k]))
    out["components_2d"] = float(len(areas))
    out["solidity_mean"] = _weighted_mean(solidity, areas)
    out["circularity_mean"] = _weighted_mean(circularity, areas)
    if fractions:
        summary = chord_summary(np.concatenate(fractions))
        for key in ("transmurality_mean", "transmurality_max", "scar_extent_pct"):
            out[key] = math.nan if summary[key] is None else float(summary[key])
    elif n_myo:
        out |= {"transmurality_mean": 0.0, "transmurality_max": 0.0, "scar_extent_pct": 0.0}
    if image is not None and n_scar and n_myo > n_scar:
        img = np.asarray(image, dtype=float)
        remote = float(np.median(img[myo & ~scar]))
        if remote != 0:
            out["enhancement_ratio"] = float(np.median(img[scar])) / remote
    return out


def image_for(case: CaseFiles) -> Path | None:
    """The LGE image beside a reference label map (EMIDEC Images/, MyoPS _LGE) or named by our
    run.json 'source', when it exists."""
    lab = case.labels
    name = lab.name
    candidates = []
    if lab.parent.name == "Contours":
        candidates.append(lab.parent.parent / "Images" / name)
    if "_gd." in name:
        candidates.append(lab.with_name(name.replace("_gd.", "_LGE.")))
    run_json = lab.parent / "run.json"
    if name == "labels.nii.gz" and run_json.is_file():
        source = json.loads(run_json.read_text()).get("source", "")
        if source:
            candidates.append(Path(source))
    return next((c for c in candidates if c.is_file()), None)


def features_for_inputs(
    inputs: Sequence[str | Path], convention: str = "auto", use_images: bool = True
) -> list[dict[str, object]]:
    """One row per case (`case`, `source`, then FEATURES) for label files or folders of cases."""
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for inp in inputs:
        for name, case in sorted(find_cases(Path(inp)).items()):
            if name in seen:
                raise ValueError(f"case {name!r} appears twice in the inputs")
            seen.add(name)
            lab = read_label_map(case.labels)
            masks = to_masks(lab.array, convention)
            if "Scar" not in masks or "Myocardium" not in masks:
                raise ValueError(f"{case.labels}: the labels define no scar or no myocardium")
            image = None
            path = image_for(case) if use_images else None
            if path is not None:
                arr = read_image(path)[0]
                image = arr if arr.shape == lab.array.shape else None
            feats = scar_features(masks, lab.spacing, image)
            rows.append({"case": name, "source": str(case.labels), **feats})
    return rows


def write_csv(rows: list[dict[str, object]], path: str | Path) -> Path:
    """Comma-separated, header = case, source, features; NaN written as empty."""
    import csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ["case", "source", *FEATURES]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([_text(r.get(h)) for h in header])
    return path


def _text(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{v:.6g}" if isinstance(v, float) else str(v)
