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

TELEMETRY_LOOKUP = (  # what onnxruntime 1.32 does without ORT_DISABLE_TELEMETRY (seen with strace)
    '1234  openat(AT_FDCWD, "/etc/resolv.conf", O_RDONLY|O_CLOEXEC) = 8',
    '1234  connect(8, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.53")}, 16) = 0',
)

STRACE = shutil.which("strace")
# A host-name lookup (DNS: resolv.conf read, port 53, netlink for AI_ADDRCONFIG) or a connection
# or datagram to anything but loopback. Allowed: local (AF_UNIX) sockets, and the loopback-only
# IPv6 probe urllib3 makes on import (a socket bound to ::1; urllib3 comes with pydicom where
# requests is installed, e.g. in Slicer).
LOOKUP = re.compile(r"/etc/resolv\.conf|/etc/hosts|htons\(53\)|socket\(AF_NETLINK")
REMOTE = re.compile(r"^\S+\s+(connect|sendto|sendmsg|sendmmsg)\(.*sa_family=AF_INET6?")
LOOPBACK = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"')


def forbidden(line: str) -> bool:
    return bool(LOOKUP.search(line) or (REMOTE.search(line) and not LOOPBACK.search(line)))


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
    cmd = [STRACE, "-f", "-qq", "-e", "trace=%network,openat", "-o", str(log),
           *_scarseg("run", str(study), "-o", str(tmp_path / "out"), "-q")]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "labels.nii.gz").is_file()
    calls = [ln for ln in log.read_text().splitlines() if forbidden(ln)]
    assert not calls, "network system calls during a run:\n" + "\n".join(calls[:10])
    assert not (Path(env["HOME"]) / ".cache" / "Microsoft").exists()


def test_the_filter_catches_a_lookup_and_lets_the_loopback_probe_pass():
    assert all(forbidden(line) for line in TELEMETRY_LOOKUP)
    assert forbidden(
        '7 connect(3, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("20.1.2.3")}, 16) = 0'
    )
    assert not forbidden("7 socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3")
    assert not forbidden(
        '7 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1'
    )
    assert not forbidden(
        '7 connect(4, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}, 16) = 0'
    )
