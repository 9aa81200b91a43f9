"""The pipeline frame: order, progress, cancellation, timing, memory."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from ScarSegmentationLib.errors import CancelledError
from ScarSegmentationLib.pipeline import Pipeline, PipelineContext
from ScarSegmentationLib.study import Study


class Recorder:
    def __init__(self, name, log, steps=3, cancel_at=None, event=None):
        self.name, self.log, self.steps = name, log, steps
        self.cancel_at, self.event = cancel_at, event

    def run(self, ctx: PipelineContext, progress):
        for s in range(self.steps):
            if self.cancel_at == s:
                self.event.set()
            progress((s + 1) / self.steps, f"{self.name} {s}")
        ctx.masks[self.name] = np.zeros(ctx.study.image.shape, bool)
        self.log.append(self.name)


def _study():
    return Study(
        image=np.random.default_rng(0).random((4, 16, 16)).astype(np.float32), spacing=(1, 1, 8)
    )


def test_stages_run_in_order_with_monotonic_progress():
    log, seen = [], []
    p = Pipeline([Recorder("a", log), Recorder("b", log)])
    result = p.run(_study(), progress=lambda f, m: seen.append(f))
    assert log == ["a", "b"]
    assert result.stages == ["a", "b"]
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0
    assert set(result.seconds) == {"a", "b", "total"}
    assert result.seconds["total"] >= result.seconds["a"]
    assert result.peak_memory_mb > 10
    assert set(result.masks) == {"a", "b"}


def test_cancel_during_a_stage_stops_the_run():
    log, event = [], threading.Event()
    p = Pipeline([Recorder("a", log, cancel_at=1, event=event), Recorder("b", log)])
    with pytest.raises(CancelledError, match="stage 'a'"):
        p.run(_study(), cancel=event)
    assert log == []


def test_cancel_before_start():
    event = threading.Event()
    event.set()
    with pytest.raises(CancelledError):
        Pipeline([Recorder("a", [])]).run(_study(), cancel=event)
