"""Canonical segment names, colours and the EMIDEC label convention shared by both modules."""

from __future__ import annotations

# Name -> RGB colour (0..1). Order is the order segments appear in the segmentation node.
SEGMENT_COLORS: dict[str, tuple[float, float, float]] = {
    "Myocardium": (0.80, 0.45, 0.35),  # whole LV myocardium, scar included
    "Blood pool": (0.85, 0.20, 0.20),
    "Scar": (1.00, 0.90, 0.15),  # enhanced myocardium, no-reflow included
    "Core scar": (1.00, 0.55, 0.00),
    "Gray zone": (0.70, 0.45, 0.95),  # violet: a grey outline vanishes on an MR image
    "No-reflow": (0.20, 0.35, 0.95),
}
SEGMENT_NAMES: tuple[str, ...] = tuple(SEGMENT_COLORS)

# EMIDEC label map convention (used for labels.nii.gz and for reading reference labels).
EMIDEC_LABELS = {
    "background": 0,
    "blood pool": 1,
    "normal myocardium": 2,
    "scar": 3,
    "no-reflow": 4,
}
