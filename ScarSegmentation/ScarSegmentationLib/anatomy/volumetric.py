"""Volumetric checks across a short-axis stack ordered from apex to base.

The LV is one contiguous run of plausible slices: keep the longest run of consecutive plausible
slices (slices outside it are below the apex or above the base), and let an open "C" ring be at
most the basal-most kept slice (above it lies the atrium or outflow tract, not the ventricle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class VolumetricDecision:
    kept: list[bool]  # per slice, in the given apex -> base order
    reasons: list[str]  # "" for kept slices, else why the slice was dropped
    run: tuple[int, int]  # [start, stop) of the kept run in the given order (empty: start == stop)


def longest_run(flags: Sequence[bool]) -> tuple[int, int]:
    """[start, stop) of the longest run of True; ties go to the run nearest the stack middle."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            runs.append((start, i))
            start = None
    if not runs:
        return (0, 0)
    middle = (len(flags) - 1) / 2.0
    return max(runs, key=lambda r: (r[1] - r[0], -abs((r[0] + r[1] - 1) / 2.0 - middle)))


def volumetric_check(
    plausible: Sequence[bool], open_ring: Sequence[bool] | None = None
) -> VolumetricDecision:
    """plausible[i], open_ring[i] for slice i of the apex -> base order."""
    n = len(plausible)
    start, stop = longest_run([bool(p) for p in plausible])
    if open_ring is not None:
        # Keep at most one "C": truncate the run just above its first open slice.
        for i in range(start, stop):
            if open_ring[i]:
                stop = i + 1
                break
    reasons = []
    for i in range(n):
        if start <= i < stop:
            reasons.append("")
        elif not plausible[i]:
            reasons.append("anatomically implausible after correction")
        elif i < start:
            reasons.append("below the apex (outside the longest run of plausible slices)")
        elif open_ring is not None and i >= stop and stop > start and open_ring[stop - 1]:
            reasons.append("above the basal open ('C'-shaped) slice")
        else:
            reasons.append("above the base (outside the longest run of plausible slices)")
    return VolumetricDecision([r == "" for r in reasons], reasons, (start, stop))
