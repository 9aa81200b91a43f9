"""Apply in a child process, driven headless as the module's QTimer drives it: progress lines
parsed, Cancel kills the child's whole process tree within about a second and leaves the scene
as it was, and a real run's outputs folder comes back into a real slicer-core scene."""

from __future__ import annotations

import json
import sys
import textwrap
import time

import numpy as np
import psutil
import pytest
from ScarQuantificationLib.table import Column, Table
from ScarSegmentationLib import background, mrml
from ScarSegmentationLib.background import (
    ChildFailedError,
    load_background_result,
    start_background,
    write_child_input,
)
from ScarSegmentationLib.child_process import (
    ChildProcess,
    child_command,
    child_environment,
    format_event,
    parse_line,
)
from ScarSegmentationLib.child_results import (
    ChildResultError,
    read_child_result,
    write_child_result,
)
from ScarSegmentationLib.errors import CancelledError, InputError
from ScarSegmentationLib.io import load_study
from ScarSegmentationLib.logic import ScarSegmentationHeadlessLogic
from ScarSegmentationLib.phantom import make_phantom
from ScarSegmentationLib.pipeline import PipelineOptions, PipelineResult

# threshold scar: a real run of every other stage, fast enough for this suite (SAM takes ~15 s)
OPTIONS = PipelineOptions(mc_samples=2, scar_method="threshold")


@pytest.fixture
def started(monkeypatch):
    """Every BackgroundRun a test starts, killed and cleaned up afterwards even if it failed."""
    import ScarSegmentationLib.background as background

    runs = []
    original = background.start_background

    def start(*args, **kwargs):
        runs.append(original(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(background, "start_background", start)
    yield runs
    for run in runs:
        run.child.cancel()
        run.cleanup()


def _phantom_scene():
    study, labels = make_phantom(seed=3)
    scene = mrml.new_scene()
    return scene, mrml.volume_node_from_study(scene, study, "LGE phantom"), labels


# Progress lines ------------------------------------------------------------------------------------


def test_progress_lines_round_trip_and_other_lines_are_logs():
    line = format_event("progress", fraction=0.25, message="myocardium...")
    event = parse_line(line + "\n")
    assert (event.event, event.fraction, event.message) == ("progress", 0.25, "myocardium...")
    assert parse_line(format_event("done", output="/x")).data["output"] == "/x"
    assert parse_line('{"event": "progress", "fraction": 7}').fraction == 1.0  # clamped
    assert parse_line('{"event": "progress", "fraction": "n/a"}').fraction is None
    for text in ("UserWarning: something", '{"not": "ours"}', "{broken json", ""):
        event = parse_line(text)
        assert event.event == "log" and event.message == text
    with pytest.raises(ValueError):
        format_event("unknown")


def test_child_command_and_environment():
    command = child_command("in.nrrd", "out", {"mc_samples": 2}, python="py")
    assert command[:2] == ["py", "-c"] and "--options" in command
    assert json.loads(command[command.index("--options") + 1]) == {"mc_samples": 2}
    env = child_environment({"PATH": "/bin", "ORT_DISABLE_TELEMETRY": "0"})
    assert env["ORT_DISABLE_TELEMETRY"] == "1" and env["PATH"] == "/bin"
    assert env["PYTHONUNBUFFERED"] == "1"


# Cancel --------------------------------------------------------------------------------------------

# A slow dummy child: starts a grandchild, reports progress, then works for a minute.
SLOW_CHILD = textwrap.dedent(
    """
    import json, subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print(json.dumps({"event": "started", "pid": grandchild.pid}), flush=True)
    print("a library's own output line", flush=True)
    for n in range(600):
        print(json.dumps({"event": "progress", "fraction": n / 600, "message": f"step {n}"}),
              flush=True)
        time.sleep(0.1)
    """
)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_cancel_kills_the_child_and_its_children_within_a_second():
    child = ChildProcess([sys.executable, "-c", SLOW_CHILD]).start()
    events = []
    deadline = time.monotonic() + 20
    while not any(e.event == "progress" for e in events) and time.monotonic() < deadline:
        events += child.poll()
        time.sleep(0.02)
    started = next(e for e in events if e.event == "started")
    grandchild = int(started.data["pid"])
    assert any(e.event == "log" and "own output" in e.message for e in events)
    assert not child.finished

    t0 = time.monotonic()
    child.cancel()
    elapsed = time.monotonic() - t0
    assert elapsed < 1.5, f"cancel took {elapsed:.2f} s"
    assert child.returncode is not None and _gone(child.pid)
    deadline = time.monotonic() + 2
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild), "the grandchild survived the cancel"
    child.wait(2)
    assert child.finished and child.cancelled
    child.close()


def test_cancel_during_a_real_run_leaves_the_scene_unchanged(started):
    scene, volume, _ = _phantom_scene()
    count = scene.GetNumberOfNodes()
    run = background.start_background(volume, OPTIONS)
    assert run.work_dir.is_dir() and scene.GetNumberOfNodes() == count
    deadline = time.monotonic() + 30
    while not any(e.event == "progress" for e in run.events) and time.monotonic() < deadline:
        run.poll()
        time.sleep(0.02)
    t0 = time.monotonic()
    run.cancel()
    assert time.monotonic() - t0 < 1.5
    assert run.finished and run.cancelled and not run.succeeded
    assert not run.work_dir.exists(), "the temporary folder was left behind"
    with pytest.raises(CancelledError):
        load_background_result(run)
    assert scene.GetNumberOfNodes() == count


# Failures ------------------------------------------------------------------------------------------


def test_an_unusable_volume_is_refused_before_a_child_starts():
    scene = mrml.new_scene()
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "labels")
    with pytest.raises(InputError):
        start_background(labelmap, OPTIONS)


def test_the_childs_error_comes_back_as_the_runs_failure(tmp_path, started):
    scene, volume, _ = _phantom_scene()
    count = scene.GetNumberOfNodes()
    run = background.start_background(volume, OPTIONS)
    run.child.cancel()  # replace the real child by one that reports an error
    (tmp_path / "bad.nrrd").write_text("not an image")
    command = child_command(tmp_path / "bad.nrrd", tmp_path / "out", {})
    run.child, run.events = ChildProcess(command, child_environment()).start(), []
    assert not run.wait(timeout=60)
    assert run.child.returncode == 1
    failure = run.failure()
    assert "bad.nrrd" in str(failure)
    with pytest.raises(ChildFailedError, match="bad.nrrd"):
        load_background_result(run)
    assert scene.GetNumberOfNodes() == count and not run.work_dir.exists()


# What the child writes ------------------------------------------------------------------------------


def test_child_results_round_trip_exactly(tmp_path):
    study, labels = make_phantom(seed=3)
    table = Table(
        "slices",
        [Column("slice", "int"), Column("area", "double", "mm2"), Column("has_scar", "bit")],
    )
    table.add_row(slice=np.int64(2), area=np.float32(1.5), has_scar=np.bool_(True))
    table.add_row(slice=3, area=float("nan"), has_scar=None)
    prob = np.random.default_rng(0).random(labels.shape, dtype=np.float32)
    result = PipelineResult(
        study=study,
        masks={"Myocardium": labels >= 2, "No-reflow": labels == 4},
        maps={"Myocardium probability": prob},
        tables={"slices": table},
        slice_info={},
        boxes=[],
        notes=["a note"],
        stages=["lv_roi"],
        seconds={"total": 1.25},
        peak_memory_mb=float("nan"),
    )
    back = read_child_result(write_child_result(result, tmp_path / "r"), study)
    assert list(back.masks) == ["Myocardium", "No-reflow"]
    for name, mask in result.masks.items():
        assert back.masks[name].dtype == bool
        np.testing.assert_array_equal(back.masks[name], mask)
    np.testing.assert_array_equal(back.maps["Myocardium probability"], prob)
    assert back.tables["slices"].columns == table.columns
    assert back.tables["slices"].rows == [
        {"slice": 2, "area": 1.5, "has_scar": True},
        {"slice": 3, "area": None, "has_scar": None},
    ]
    assert (back.notes, back.stages, back.seconds) == (["a note"], ["lv_roi"], {"total": 1.25})
    assert np.isnan(back.peak_memory_mb)

    other, _ = make_phantom(seed=3, num_slices=4)
    with pytest.raises(ChildResultError, match="shape"):
        read_child_result(tmp_path / "r", other)
    with pytest.raises(ChildResultError):
        read_child_result(tmp_path / "missing", study)


# A real run ----------------------------------------------------------------------------------------


def test_child_input_keeps_the_volumes_world_geometry(tmp_path):
    study, _ = make_phantom(seed=3)
    path = write_child_input(study, tmp_path / "input.nrrd")
    back = load_study(path)
    np.testing.assert_array_equal(back.image, study.image)
    np.testing.assert_allclose(back.spacing, study.spacing, atol=1e-6)
    np.testing.assert_allclose(back.origin, study.origin, atol=1e-5)
    np.testing.assert_allclose(back.direction, study.direction, atol=1e-6)
    np.testing.assert_array_equal(back.apex_to_base, study.apex_to_base)


def test_background_apply_loads_the_results_into_the_scene(tmp_path, started):
    scene, volume, labels = _phantom_scene()
    logic = ScarSegmentationHeadlessLogic(options=OPTIONS)
    # The child must work in PythonSlicer, which has no MRML (that needs the Slicer application):
    # here it cannot import slicer, vtk or qt at all.
    for name in ("slicer", "vtk", "vtkmodules", "qt"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('no {name} in the child')")
    run = background.start_background(volume, OPTIONS, env={"PYTHONPATH": str(tmp_path)})
    fractions = []
    t0 = time.monotonic()
    while not run.finished and time.monotonic() - t0 < 120:  # as the widget's QTimer does
        run.poll()
        fractions.append(run.fraction)
        time.sleep(0.05)
    run.poll()
    assert run.succeeded, run.failure()
    assert fractions == sorted(fractions) and run.fraction == 1.0
    assert any(e.event == "progress" and "myocardium" in e.message for e in run.events)
    files = read_child_result(run.output, run.study)  # the reader alone, before the folder goes

    result = logic.loadBackground(run)
    assert not run.work_dir.exists()
    names = mrml.masks_from_segmentation_node(result.segmentation_node, volume)
    assert {"Myocardium", "Blood pool", "Scar"} <= set(names)
    ref = labels >= 2
    myo = names["Myocardium"]
    dice = 2 * (myo & ref).sum() / (myo.sum() + ref.sum())
    assert dice > 0.5, f"the phantom's myocardium should be found (Dice {dice:.2f})"
    assert {"measurements", "slices"} <= set(result.table_nodes)
    assert "Myocardium probability" in result.map_nodes
    for key, array in files.maps.items():
        loaded = mrml.array_from_volume_node(result.map_nodes[key])
        np.testing.assert_allclose(loaded, array, atol=1e-6)
    burden = result.result.tables["measurements"].values("scar_burden_pct")[0]
    assert burden is not None and np.isfinite(burden)

    # the same study in this process gives the same segments (same grid, same geometry)
    direct = logic.process(volume)  # a repeated Apply: refills the same nodes
    assert direct.segmentation_node is result.segmentation_node
    for name, mask in direct.result.masks.items():
        np.testing.assert_array_equal(names[name], mask, err_msg=name)

    # and a second background Apply refills them too
    count = scene.GetNumberOfNodes()
    again = logic.loadBackground(_finished(logic.startBackground(volume)))
    assert again.segmentation_node is result.segmentation_node
    assert scene.GetNumberOfNodes() == count


def _finished(run):
    assert run.wait(timeout=120), run.failure()
    return run
