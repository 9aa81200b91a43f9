"""The range IntensityHarmonizeStage keeps studies in: per training patient, the median of the
standardised stack inside the LV region that stage 1 (the shipped ROI net) finds, as at
inference; min and max over the patients.

    cd ScarSegmentation && ../.venv/bin/python -m ScarSegmentationLib.training.intensity_range
"""

from __future__ import annotations

import argparse

import numpy as np

from ..data import PatientSlices, load_all, load_split
from ..pipeline import PipelineContext, PipelineOptions
from ..study import Study


def patient_study(p: PatientSlices) -> Study:
    """A patient's slices as a study (EMIDEC PNG slices have no spacing: 1 mm nominal)."""
    row, col = p.spacing if p.spacing is not None else (1.0, 1.0)
    spacing = (float(col), float(row), float(p.slice_spacing or 1.0))
    return Study(np.stack(p.images).astype(np.float32), spacing, name=p.patient_id)


def roi_median(study: Study, stages: list) -> float | None:
    """Median standardised intensity inside stage 1's LV region (None: no LV found)."""
    ctx = PipelineContext(study=study, options=PipelineOptions())
    for stage in stages:
        stage.run(ctx, lambda fraction, message: None)
    if ctx.standardized is None or ctx.roi_mask is None or not ctx.roi_mask.any():
        return None
    return float(np.median(ctx.standardized[ctx.roi_mask]))


def main(argv: list[str] | None = None) -> int:
    from ..factory import build_pipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", default=None, help="data dir (default: SCARSEG_DATA or ../shared/data)"
    )
    ap.add_argument("--split", default=None, help="split.json (default: Resources/Models)")
    args = ap.parse_args(argv)
    stages = build_pipeline(PipelineOptions(scar_method="none")).stages[:2]  # standardise, ROI
    patients = load_all(args.data)
    by_centre: dict[str, list[float]] = {}
    for pid in load_split(args.split)["train"]:
        m = roi_median(patient_study(patients[pid]), stages)
        if m is not None:
            by_centre.setdefault(patients[pid].centre, []).append(m)
    for centre, v in sorted(by_centre.items()):
        print(f"{centre}: {len(v)} patients, LV-region median {min(v):.3f}-{max(v):.3f}")
    every = [m for v in by_centre.values() for m in v]
    print(f"LV_MEDIAN_RANGE = ({min(every):.3f}, {max(every):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
