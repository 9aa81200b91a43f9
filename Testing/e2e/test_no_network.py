"""A whole `scarseg run` makes no network system call (ONNX Runtime's telemetry lookup included).

Traced with strace: without ORT_DISABLE_TELEMETRY=1, onnxruntime 1.32 on Linux opens a UDP socket
and sends a DNS query for mobile.events.data.microsoft.com a few seconds into a run, and writes
~/.cache/Microsoft/DeveloperTools; the package sets the variable before onnxruntime is imported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

STRACE = shutil.which("strace")
# Any socket other than a local (AF_UNIX) one, any connect or send to an internet address, and
# the name-service cache daemon's socket (a DNS lookup through nscd).
FORBIDDEN = re.compile(
    r"socket\(AF_INET6?\b|socket\(AF_NETLINK|sin6?_family=AF_INET6?|/var/run/nscd|/run/nscd"
)


def _scarseg(*args: str) -> list[str]:
    return [sys.executable, "-c", "from ScarSegmentationLib.cli import main; main()", *args]


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (apt-get install strace)")
def test_a_run_makes_no_network_system_call(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env["HOME"] = str(tmp_path / "home")  # telemetry would also write under ~/.cache/Microsoft
    (tmp_path / "home").mkdir()
    phantom = tmp_path / "phantom"
    subprocess.run(_scarseg("phantom", "-o", str(phantom)), env=env, check=True,
                   capture_output=True)  # fmt: skip
    study = next(phantom.glob("*.nii.gz"))
    log = tmp_path / "strace.log"
    cmd = [STRACE, "-f", "-qq", "-e", "trace=%network,connect", "-o", str(log),
           *_scarseg("run", str(study), "-o", str(tmp_path / "out"), "-q")]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "labels.nii.gz").is_file()
    calls = [ln for ln in log.read_text().splitlines() if FORBIDDEN.search(ln)]
    assert not calls, "network system calls during a run:\n" + "\n".join(calls[:10])
    assert not (Path(env["HOME"]) / ".cache" / "Microsoft").exists()
