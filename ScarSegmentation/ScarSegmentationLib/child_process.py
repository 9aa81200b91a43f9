"""The pipeline in a child process: the command it runs, its progress lines, start/poll/cancel.

Slicer stays responsive because the pipeline never runs on its GUI thread: the module writes the
input volume to a temporary file, starts this package's child entry point (`child_main`) in a
separate Python process, reads the child's output lines on a reader thread, and polls them from a
qt.QTimer (the widget's only part in this). Cancel kills the child and every process it started
(psutil), so it stops within about a second whatever the pipeline is doing; the scene is only
touched once the child has finished and its outputs folder is read back (see background.py).

This is plain subprocess + a reader thread + polling, as the MONAIAuto3DSeg extension does: it
works on every supported Slicer (5.10 on) (the non-blocking `slicer.util.launchConsoleProcess` only exists
from 5.12), on Windows, macOS and Linux (no shell, no signals, no process groups). Nothing here
imports qt or slicer.

Protocol: the child writes one JSON object per line on its stdout, each with an "event":
  {"event": "started", "pid": 1234}
  {"event": "progress", "fraction": 0.42, "message": "myocardium..."}
  {"event": "done", "output": "/tmp/.../outputs", "seconds": 5.2}
  {"event": "error", "error": "InputError", "message": "...", "details": "traceback"}
Any other line (a library's print, a warning on stderr, which is merged into stdout) is a "log"
event with the line as message.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

# What `python -c` runs in the child: the two Lib folders go first on sys.path (PythonSlicer does
# not know the module paths Slicer adds at run time), then the entry point below.
BOOTSTRAP = (
    "import sys; sys.path[:0] = sys.argv[1:3]; del sys.argv[1:3]; "
    "from ScarSegmentationLib.child_process import child_main; sys.exit(child_main())"
)
EVENTS = ("started", "progress", "done", "error", "log")


@dataclass(frozen=True)
class ChildEvent:
    event: str  # one of EVENTS
    message: str = ""
    fraction: float | None = None  # progress: 0..1 of the whole run
    data: dict[str, Any] = field(default_factory=dict)  # the whole parsed line


def format_event(event: str, **fields: Any) -> str:
    """One protocol line (no newline): a JSON object with "event" first."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    return json.dumps({"event": event, **fields}, ensure_ascii=True)


def parse_line(line: str) -> ChildEvent:
    """A protocol line as an event; anything else (or a malformed line) as a "log" event."""
    text = line.rstrip("\r\n")
    try:
        data = json.loads(text) if text.startswith("{") else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("event") not in EVENTS:
        return ChildEvent("log", text)
    fraction = data.get("fraction")
    if fraction is not None:
        try:
            fraction = min(max(float(fraction), 0.0), 1.0)
        except (TypeError, ValueError):
            fraction = None
    return ChildEvent(data["event"], str(data.get("message", "")), fraction, data)


# The command --------------------------------------------------------------------------------------


def python_executable() -> str:
    """Slicer's standalone Python (PythonSlicer; inside Slicer sys.executable is Slicer itself),
    else the Python running this code (the command line, tests)."""
    return shutil.which("PythonSlicer") or sys.executable


def lib_folders() -> list[str]:
    """The folders holding ScarSegmentationLib and ScarQuantificationLib (for the child's path)."""
    import ScarQuantificationLib

    here = Path(__file__).resolve().parent.parent
    quant = Path(ScarQuantificationLib.__file__).resolve().parent.parent
    return [str(here), str(quant)]


def child_command(
    input_path: str | Path,
    output_dir: str | Path,
    options: dict[str, Any],
    python: str | None = None,
) -> list[str]:
    """The child's command line: segment and quantify INPUT, write the results into OUTDIR."""
    return [
        python or python_executable(),
        "-c",
        BOOTSTRAP,
        *lib_folders(),
        str(input_path),
        str(output_dir),
        "--options",
        json.dumps(options),
        "--exit-with-parent",
    ]


def child_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment plus what every run needs: no ONNX Runtime telemetry lookup,
    no network for ultralytics, polite OpenMP threads, unbuffered UTF-8 output."""
    env = dict(os.environ if base is None else base)
    env["ORT_DISABLE_TELEMETRY"] = "1"
    env.setdefault("YOLO_OFFLINE", "1")
    env.setdefault("YOLO_AUTOINSTALL", "0")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


# The running child -------------------------------------------------------------------------------


class ChildProcess:
    """A child process whose stdout (stderr merged) is read line by line on a reader thread.

    start() returns at once; poll() returns the events that arrived since the last call without
    waiting (call it from a GUI timer); cancel() kills the child and its own children.
    """

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.command = list(command)
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.cancelled = False
        self.events: list[ChildEvent] = []  # every event polled so far
        self._queue: queue.Queue[ChildEvent | None] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._eof = False

    def start(self) -> ChildProcess:
        if self.proc is not None:
            raise RuntimeError("the child process was already started")
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # Windows: no console window
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,  # the child exits when this closes (the parent died)
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            creationflags=flags,
        )
        self._reader = threading.Thread(
            target=self._read, args=(self.proc.stdout,), name="scarseg-child-reader", daemon=True
        )
        self._reader.start()
        return self

    def _read(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self._queue.put(parse_line(line))
        except (OSError, ValueError):  # the pipe closed under us (cancel)
            pass
        finally:
            self._queue.put(None)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def poll(self) -> list[ChildEvent]:
        """Events that arrived since the last call (never blocks)."""
        new: list[ChildEvent] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._eof = True
            else:
                new.append(item)
        self.events.extend(new)
        return new

    @property
    def finished(self) -> bool:
        """The child has exited and all its output has been polled."""
        return self.proc is not None and self.proc.poll() is not None and self._eof

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def wait(self, timeout: float | None = None, interval: float = 0.05) -> int | None:
        """Poll until finished or `timeout` seconds passed (tests, console); the return code."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.finished:
            if end is not None and time.monotonic() >= end:
                break
            self.poll()
            time.sleep(interval)
        self.poll()
        return self.returncode

    def cancel(self, timeout: float = 2.0) -> None:
        """Kill the child and every process under it; wait up to `timeout` s for them to end."""
        self.cancelled = True
        if self.proc is None or self.proc.poll() is not None:
            self._close_stdin()
            return
        if not kill_tree(self.proc.pid, timeout):
            self.proc.kill()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._close_stdin()
        if self._reader is not None:
            self._reader.join(timeout)

    def close(self) -> None:
        """After it finished: release the pipes (cancel() if it still runs)."""
        if self.proc is not None and self.proc.poll() is None:
            self.cancel()
        self._close_stdin()
        if self.proc is not None and self.proc.stdout is not None:
            if self._reader is not None:
                self._reader.join(1.0)
            self.proc.stdout.close()

    def _close_stdin(self) -> None:
        if self.proc is not None and self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def output_text(self, last: int = 40) -> str:
        """The last `last` log lines (what a failed child printed), for error details."""
        lines = [e.message for e in self.events if e.event == "log"]
        return "\n".join(lines[-last:])


def kill_tree(pid: int, timeout: float = 2.0) -> bool:
    """Kill a process and all its descendants (children are listed before the parent dies, or
    they would be orphaned out of reach) and wait up to `timeout` s for them. False when psutil
    is not installed (then the caller kills the process itself)."""
    try:
        import psutil
    except ImportError:
        return False
    try:
        parent = psutil.Process(pid)
        procs = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return True
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    # A killed process is gone once it is a zombie: its parent (Popen.wait for the child, the
    # system for orphans, unless a container has no init to reap them) only collects its status.
    deadline = time.monotonic() + timeout
    while procs and time.monotonic() < deadline:
        procs = [p for p in procs if _running(p, psutil)]
        if procs:
            time.sleep(0.02)
    return True


def _running(proc: Any, psutil: Any) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# The child's side --------------------------------------------------------------------------------


def child_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the child: INPUT OUTDIR --options JSON -> results folder + protocol lines.

    Loads INPUT as `scarseg run` does (io.load_study), runs the pipeline with the given
    PipelineOptions fields and writes OUTDIR with child_results.write_child_result. It imports
    neither slicer nor vtk: Slicer's standalone Python (PythonSlicer) lacks Slicer's MRML
    libraries, which need the application. Exit status 0 done, 1 a problem with the input or
    the models (ScarSegError), 2 anything else.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="scarseg-child")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--options", default="{}", help="PipelineOptions fields as JSON")
    parser.add_argument(
        "--exit-with-parent", action="store_true", help="exit when stdin closes (parent gone)"
    )
    args = parser.parse_args(argv)

    protocol = sys.stdout
    sys.stdout = sys.stderr  # a library's print() must not look like a protocol line

    def emit(event: str, **fields: Any) -> None:
        protocol.write(format_event(event, **fields) + "\n")
        protocol.flush()

    if args.exit_with_parent:
        _exit_when_parent_goes()
    emit("started", pid=os.getpid())
    from .errors import ScarSegError

    try:
        from .child_results import write_child_result
        from .factory import build_pipeline
        from .io import load_study
        from .pipeline import PipelineOptions

        options = PipelineOptions(**json.loads(args.options))
        emit("progress", fraction=0.0, message="loading the models...")
        study = load_study(args.input)
        pipeline = build_pipeline(options)
        result = pipeline.run(
            study, progress=lambda f, m: emit("progress", fraction=round(float(f), 4), message=m)
        )
        emit("progress", fraction=1.0, message="writing the results...")
        out = write_child_result(result, Path(args.output))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent as an event
        import traceback

        known = isinstance(exc, ScarSegError)
        emit(
            "error",
            error=type(exc).__name__,
            message=str(exc),
            details="" if known else traceback.format_exc(),
        )
        return 1 if known else 2
    emit("done", output=str(out), seconds=result.seconds.get("total"))
    return 0


def _exit_when_parent_goes() -> None:
    """End the child when its stdin closes: the parent (Slicer) exited or crashed."""

    def watch() -> None:
        try:
            sys.stdin.read()
        except (OSError, ValueError):
            pass
        os._exit(3)

    if sys.stdin is not None:
        threading.Thread(target=watch, name="scarseg-parent-watch", daemon=True).start()
