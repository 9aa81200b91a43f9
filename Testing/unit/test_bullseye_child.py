"""The command line draws bullseye.png in a child Python; whatever goes wrong there, the run
draws it itself, and the picture is the one the in-process path draws."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from ScarQuantificationLib.aha import aha_table
from ScarQuantificationLib.bullseye import bullseye_from_table
from ScarSegmentationLib import outputs


class _Result:  # the two things _start_bullseye reads
    def __init__(self, tables):
        self.tables = tables

        class _Study:
            name = "phantom"

        self.study = _Study()


def _aha():
    myo = np.zeros((4, 40, 40), bool)
    yy, xx = np.mgrid[:40, :40]
    r = np.hypot(yy - 20, xx - 20)
    myo[:] = (r > 8) & (r < 14)
    pool = np.broadcast_to(r <= 8, myo.shape)
    scar = myo & (xx > 24)
    return aha_table({"Myocardium": myo, "Blood pool": pool, "Scar": scar}, (1.5, 1.5, 8.0),
                     apex_to_base=np.arange(4))  # fmt: skip


def test_child_draws_the_same_picture_as_the_process(tmp_path):
    table = _aha()
    proc = outputs._start_bullseye(_Result({"aha": table}), tmp_path / "child.png")
    assert proc is not None and outputs._child_drew(proc)
    bullseye_from_table(table, "scar_pct", tmp_path / "here.png",
                        title="phantom: scar % per AHA segment")  # fmt: skip
    assert (tmp_path / "child.png").read_bytes() == (tmp_path / "here.png").read_bytes()


def test_no_table_no_child(tmp_path):
    assert outputs._start_bullseye(_Result({}), tmp_path / "b.png") is None


def test_child_that_cannot_start_or_fails_leaves_it_to_the_process(tmp_path, monkeypatch):
    failing = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"],
                               stderr=subprocess.PIPE)  # fmt: skip
    assert not outputs._child_drew(failing)
    assert not outputs._child_drew(None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    assert outputs._start_bullseye(_Result({"aha": _aha()}), tmp_path / "b.png") is None


def test_child_reads_its_spec_from_stdin(tmp_path):
    spec = {"values": {"1": 5.0, "17": None}, "path": str(tmp_path / "b.png"), "kwargs": {}}
    done = subprocess.run([sys.executable, "-m", "ScarSegmentationLib.bullseye_child"],
                          input=json.dumps(spec).encode(), capture_output=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b.png").stat().st_size > 1000


def test_a_failed_write_stops_the_child_before_its_folder_is_removed(tmp_path, monkeypatch):
    started = []
    real_start = outputs._start_bullseye
    monkeypatch.setattr(outputs, "_start_bullseye",
                        lambda *a: started.append(real_start(*a)) or started[-1])  # fmt: skip

    def fail(*a):
        raise OSError("disk full")

    monkeypatch.setattr(outputs, "_write_files", fail)
    try:
        outputs._write_all(_Result({"aha": _aha()}), tmp_path, overview=False, child=True)
    except OSError:
        pass
    else:
        raise AssertionError("the write error was swallowed")
    assert started and started[0].returncode is not None  # killed and waited for
