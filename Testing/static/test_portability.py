"""Nothing Unix-only (or Windows-only) in what the extension ships: it loads on Windows, macOS, Linux.

An AST scan of both Lib packages (except training/, which is not shipped) and the two module
files. It fails on:
- a platform-only module (resource, fcntl, pwd, grp, termios, ...) imported anywhere except
  inside a function, within a `try` that catches ImportError (then it is an optional extra);
- a Unix-only function or constant of os / signal (os.getuid, os.fork, signal.SIGKILL, ...);
- a shell: `shell=True` in any call, os.system, os.popen, subprocess.getoutput.

Also here: the peak-memory figure of the pipeline, correct per platform without `resource` at
module load.
"""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LIB_ROOTS = (
    REPO / "ScarSegmentation" / "ScarSegmentationLib",
    REPO / "ScarQuantification" / "ScarQuantificationLib",
)
MODULE_FILES = (
    REPO / "ScarSegmentation" / "ScarSegmentation.py",
    REPO / "ScarQuantification" / "ScarQuantification.py",
)
NOT_SHIPPED = ("training",)  # sub-packages of a Lib that the extension does not install

# Modules that exist on one platform only.
PLATFORM_MODULES = {
    "resource",
    "fcntl",
    "pwd",
    "grp",
    "termios",
    "tty",
    "pty",
    "posix",
    "crypt",
    "spwd",
    "syslog",
    "nis",
    "msvcrt",
    "winreg",
    "_winapi",
    "winsound",
}
# os / signal names that Windows lacks (or, for os.system/os.popen, that run a shell).
UNIX_ONLY = {
    "os": {
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "getgroups",
        "setuid",
        "seteuid",
        "setgid",
        "fork",
        "forkpty",
        "setsid",
        "getsid",
        "getpgid",
        "setpgid",
        "getpgrp",
        "setpgrp",
        "killpg",
        "uname",
        "nice",
        "chown",
        "lchown",
        "fchown",
        "mkfifo",
        "mknod",
        "getloadavg",
        "sync",
        "wait3",
        "wait4",
        "openpty",
        "statvfs",
        "sysconf",
        "sched_getaffinity",
        "sched_setaffinity",
        "system",
        "popen",
    },
    "signal": {
        "SIGKILL",
        "SIGHUP",
        "SIGQUIT",
        "SIGUSR1",
        "SIGUSR2",
        "SIGALRM",
        "SIGCHLD",
        "SIGPIPE",
        "SIGSTOP",
        "SIGCONT",
        "SIGTSTP",
        "alarm",
        "setitimer",
        "getitimer",
        "pause",
        "siginterrupt",
    },
    "subprocess": {"getoutput", "getstatusoutput"},
}
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def shipped_sources() -> list[Path]:
    files = list(MODULE_FILES)
    for root in LIB_ROOTS:
        files += [
            p
            for p in sorted(root.rglob("*.py"))
            if not set(p.relative_to(root).parts[:-1]) & set(NOT_SHIPPED)
        ]
    return files


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        kinds = handler.type
        if kinds is None:
            return True
        names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
        if any(isinstance(n, ast.Name) and n.id in IMPORT_ERRORS for n in names):
            return True
    return False


def problems(source: str, filename: str = "<source>") -> list[str]:
    """Every non-portable import or call in one file, as 'file:line: what'."""
    tree = ast.parse(source, filename=filename)
    found: list[str] = []
    aliases: dict[str, str] = {}  # local name -> module it stands for (os, signal, subprocess)

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    def visit(node: ast.AST, in_function: bool, guarded: bool) -> None:
        for child in ast.iter_child_nodes(node):
            func = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            # an import in the body of a try that catches ImportError may fail harmlessly
            body_guarded = guarded
            if isinstance(child, ast.Try) and _catches_import_error(child):
                for stmt in child.body:
                    check(stmt, func, True)
                    visit(stmt, func, True)
                for part in (child.handlers, child.orelse, child.finalbody):
                    for stmt in part:
                        check(stmt, func, guarded)
                        visit(stmt, func, guarded)
                continue
            check(child, func, body_guarded)
            visit(child, func, body_guarded)

    def check(node: ast.AST, in_function: bool, guarded: bool) -> None:
        optional = in_function and guarded
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                if top in PLATFORM_MODULES and not optional:
                    report(node, f"import {a.name} (platform-only module)")
                if top in UNIX_ONLY:
                    aliases[a.asname or top] = top
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            top = node.module.split(".")[0]
            if top in PLATFORM_MODULES and not optional:
                report(node, f"from {node.module} import ... (platform-only module)")
            for a in node.names:
                if a.name in UNIX_ONLY.get(top, ()):
                    report(node, f"from {top} import {a.name} (Unix-only or shell)")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = aliases.get(node.value.id)
            if module and node.attr in UNIX_ONLY[module]:
                report(node, f"{node.value.id}.{node.attr} (Unix-only or shell)")
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "shell" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    report(node, "shell=... in a call (run the program with an argument list)")

    # imports first, so that aliases are known wherever the names are used
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                if top in UNIX_ONLY:
                    aliases[a.asname or top] = top
    visit(tree, False, False)
    return sorted(set(found), key=lambda s: (s.split(":")[0], int(s.split(":")[1])))


def test_the_scan_covers_the_shipped_code():
    files = {p.relative_to(REPO).as_posix() for p in shipped_sources()}
    assert "ScarSegmentation/ScarSegmentation.py" in files
    assert "ScarQuantification/ScarQuantification.py" in files
    assert "ScarSegmentation/ScarSegmentationLib/pipeline.py" in files
    assert "ScarSegmentation/ScarSegmentationLib/scar/detector.py" in files
    assert "ScarQuantification/ScarQuantificationLib/quantify.py" in files
    assert not any("/training/" in f for f in files)


@pytest.mark.parametrize(
    "code",
    [
        "import resource",
        "import fcntl, os",
        "from pwd import getpwuid",
        "def f():\n    import resource\n    return resource",  # lazy but unguarded
        "try:\n    import resource\nexcept ImportError:\n    resource = None",  # at module load
        "import os\nu = os.getuid()",
        "import os as _os\nu = _os.geteuid()",
        "from os import getuid",
        "import os\nif os.fork() == 0: pass",
        "import os, signal\nos.kill(1, signal.SIGKILL)",
        "import subprocess\nsubprocess.run('ls', shell=True)",
        "import subprocess\nsubprocess.run(cmd, shell=flag)",
        "import os\nos.system('ls')",
    ],
)
def test_the_scan_finds_non_portable_code(code):
    assert problems(code), code


@pytest.mark.parametrize(
    "code",
    [
        "def f():\n    try:\n        import resource\n    except ImportError:\n        return 0",
        "import os\nos.getpid(); os.kill(1, 15); os.replace('a', 'b')",
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_DFL)",
        "import subprocess, sys\nsubprocess.run([sys.executable, '-V'], shell=False)",
        "x = {'resource': 1}; x.getuid = 2",  # not the os module
    ],
)
def test_the_scan_accepts_portable_code(code):
    assert problems(code) == [], code


def test_shipped_code_has_no_unix_only_calls():
    found = []
    for path in shipped_sources():
        found += problems(path.read_text(encoding="utf-8"), path.relative_to(REPO).as_posix())
    assert not found, "not portable to Windows/macOS/Linux:\n" + "\n".join(found)


# --- peak memory, per platform ---------------------------------------------------------------


def _fake_resource(maxrss: int) -> types.ModuleType:
    module = types.ModuleType("resource")
    module.RUSAGE_SELF = 0
    module.getrusage = lambda who: types.SimpleNamespace(ru_maxrss=maxrss)
    return module


def _fake_psutil(**memory: int) -> types.ModuleType:
    module = types.ModuleType("psutil")
    module.Error = type("Error", (Exception,), {})
    info = types.SimpleNamespace(**memory)
    module.Process = lambda: types.SimpleNamespace(memory_info=lambda: info)
    return module


@pytest.mark.parametrize(
    ("platform", "expected_mb"),
    [("linux", 512.0), ("darwin", 0.5)],  # ru_maxrss: KiB on Linux, bytes on macOS
)
def test_peak_memory_from_getrusage(monkeypatch, platform, expected_mb):
    from ScarSegmentationLib import pipeline

    monkeypatch.setattr(pipeline.sys, "platform", platform)
    monkeypatch.setitem(sys.modules, "resource", _fake_resource(512 * 1024))
    assert pipeline._peak_rss_mb() == pytest.approx(expected_mb)


def test_peak_memory_on_windows_is_the_peak_working_set(monkeypatch):
    from ScarSegmentationLib import pipeline

    monkeypatch.setattr(pipeline.sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "resource", None)  # would raise ImportError if used
    fake = _fake_psutil(rss=100 * 2**20, peak_wset=300 * 2**20)
    monkeypatch.setitem(sys.modules, "psutil", fake)
    assert pipeline._peak_rss_mb() == pytest.approx(300.0)


def test_peak_memory_without_resource_or_psutil_is_nan(monkeypatch):
    from ScarSegmentationLib import pipeline

    monkeypatch.setattr(pipeline.sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "psutil", None)
    assert pipeline._peak_rss_mb() != pipeline._peak_rss_mb()  # NaN, not a crash


def test_peak_memory_here_is_plausible():
    from ScarSegmentationLib import pipeline

    assert 10 < pipeline._peak_rss_mb() < 1e6
