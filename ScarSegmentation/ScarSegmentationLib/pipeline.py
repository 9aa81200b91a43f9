"""The pipeline object: stages wired in order, with progress, cancellation, timing and memory.

Each stage is an object with a `name` and `run(ctx, progress)`; it reads what earlier stages put
in the PipelineContext and adds its own results. Adding a stage is a local change: write the
stage, add it to `build_stages`. Stages whose models are absent are simply not in the list, so
their outputs are absent (never faked).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .errors import CancelledError
from .study import Study

if TYPE_CHECKING:  # crop imports scipy, which Slicer does not ship: keep module import light
    from .crop import CropBox

ProgressCallback = Callable[[float, str], None]  # (fraction 0..1 of the whole run, message)


@dataclass
class PipelineOptions:
    mc_samples: int = 4  # Monte-Carlo dropout samples in stage 2 (0 or 1 = deterministic)
    # "fwhm-remote", "fwhm" or "<n>sd" (ScarQuantificationLib.core_scar; docs/METRICS.md)
    core_method: str = "fwhm-remote"
    # "auto", "unet" (U-Net scar head), "network" (YOLO + SAM), "threshold" (FWHM), "none"
    scar_method: str = "auto"
    threads: int = 2
    keep_probabilities: bool = True
    seed: int = 0
    device: str = "cpu"  # "cuda": the GPU when onnxruntime-gpu is installed (else the CPU)
    scar_presence: bool = True  # drop specks / small totals after the scar networks
    # how far the U-Nets' training class weights are undone (calibration.py): 1 = fully (the
    # posterior's argmax), lower values lean towards the rare classes
    prior_power: float = 1.0
    scar_threshold: float = 0.5  # U-Net scar head: scar where P(scar | myocardium) >= this
    refine_wall: bool = True  # the wall refiner before the U-Net scar head, when installed


@dataclass
class NetPasses:
    """One network's softmax passes (M, N, C, S, S) over the crops of slices `ks`, kept so a
    later stage running the same network on the same crops can reuse them."""

    model: Any
    ks: list[int]
    boxes: dict[int, CropBox]
    probs: np.ndarray

    def rows_for(self, model: Any, ks: list[int], boxes: dict[int, CropBox]) -> list[int] | None:
        """Row index of each of `ks` if these passes are `model`'s on the same crops, else None."""
        if model is not self.model or any(self.boxes.get(k) != boxes[k] for k in ks):
            return None
        index = {k: n for n, k in enumerate(self.ks)}
        return [index[k] for k in ks]


@dataclass
class PipelineContext:
    """Everything stages share. Arrays are on the study grid, indexed (k, j, i)."""

    study: Study
    options: PipelineOptions
    standardized: np.ndarray | None = None  # (k, j, i) float32 in [0, 1]
    roi_mask: np.ndarray | None = None  # stage 1: LV region (blood pool + myocardium)
    crop_boxes: dict[int, CropBox] = field(default_factory=dict)  # slice k -> crop of stage 2
    crop_probs: dict[int, np.ndarray] = field(default_factory=dict)  # k -> (3, S, S) bg/bp/myo
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # canonical segment name -> bool
    maps: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # float volumes (probability, uncertainty)
    slice_info: dict[int, dict[str, Any]] = field(default_factory=dict)  # k -> per-slice QC values
    tables: dict[str, Any] = field(default_factory=dict)  # name -> ScarQuantificationLib Table
    boxes: list[dict[str, Any]] = field(
        default_factory=list
    )  # detector boxes (k, x0, y0, x1, y1, score)
    notes: list[str] = field(default_factory=list)  # human-readable remarks for the report
    scar_source: str | None = None  # scar method of the stage that made masks["Scar"]
    net_passes: dict[str, NetPasses] = field(default_factory=dict)  # reusable network passes

    def info(self, k: int) -> dict[str, Any]:
        return self.slice_info.setdefault(int(k), {})


class Stage(Protocol):
    name: str

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None: ...


@dataclass
class PipelineResult:
    study: Study
    masks: dict[str, np.ndarray]
    maps: dict[str, np.ndarray]
    tables: dict[str, Any]
    slice_info: dict[int, dict[str, Any]]
    boxes: list[dict[str, Any]]
    notes: list[str]
    stages: list[str]
    seconds: dict[str, float]  # per stage, plus "total"
    peak_memory_mb: float  # peak resident set size of this process so far


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB, on every platform; NaN if none can be read.

    Windows: psutil's peak working set. Linux and macOS: getrusage's ru_maxrss, in KiB on Linux
    and in bytes on macOS. `resource` is Unix-only and psutil may not be installed yet in Slicer,
    so both are imported here, guarded, never at module load. Where no peak is available the
    current resident size is the best lower bound.
    """
    if sys.platform != "win32":
        try:
            import resource
        except ImportError:
            pass
        else:
            maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024.0
    try:
        import psutil
    except ImportError:
        return float("nan")
    try:
        info = psutil.Process().memory_info()
    except psutil.Error:
        return float("nan")
    return float(getattr(info, "peak_wset", info.rss)) / 2**20


def _return_freed_memory() -> None:
    """Hand the heap memory the networks freed back to the system (glibc keeps it otherwise:
    about 110 MB after a study), so writing the outputs does not stack on top of it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
        pass


class Pipeline:
    def __init__(self, stages: list[Stage], options: PipelineOptions | None = None) -> None:
        self.stages = list(stages)
        self.options = options or PipelineOptions()

    def run(
        self,
        study: Study,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> PipelineResult:
        ctx = PipelineContext(study=study, options=self.options)
        report = progress or (lambda fraction, message: None)
        seconds: dict[str, float] = {}
        n = max(len(self.stages), 1)
        t_all = time.perf_counter()
        for i, stage in enumerate(self.stages):
            if cancel is not None and cancel.is_set():
                raise CancelledError(f"cancelled before stage '{stage.name}'")

            def stage_progress(fraction: float, message: str, i: int = i) -> None:
                if cancel is not None and cancel.is_set():
                    raise CancelledError(f"cancelled during stage '{self.stages[i].name}'")
                report((i + min(max(fraction, 0.0), 1.0)) / n, message)

            report(i / n, f"{stage.name}...")
            t0 = time.perf_counter()
            stage.run(ctx, stage_progress)
            seconds[stage.name] = time.perf_counter() - t0
        seconds["total"] = time.perf_counter() - t_all
        peak = _peak_rss_mb()  # before the trim: the pipeline's own peak
        _return_freed_memory()
        report(1.0, "done")
        return PipelineResult(
            study=study,
            masks=ctx.masks,
            maps=ctx.maps,
            tables=ctx.tables,
            slice_info=ctx.slice_info,
            boxes=ctx.boxes,
            notes=ctx.notes,
            stages=[s.name for s in self.stages],
            seconds=seconds,
            peak_memory_mb=peak,
        )
