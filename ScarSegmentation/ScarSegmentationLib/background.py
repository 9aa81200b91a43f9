"""Apply in the background: the input volume goes to a child process, its results come back.

start_background(volume) validates the volume, writes it (world geometry: a parent transform
applied, exactly as logic.process reads it) to a temporary NRRD through a storage node of a
scratch scene, and starts the child (child_process.py), which loads it as `scarseg run` loads a
file, runs the pipeline and writes its results folder (child_results.py). The caller polls the
returned BackgroundRun (the module's widget from a qt.QTimer; tests and scripts with wait()).
Nothing in the user's scene changes until load_background_result(), which reads the folder into
a PipelineResult (child_results.read_child_result) and hands it to logic.add_result_to_scene, the
same function the in-process logic.process uses. Cancel kills the child; the temporary folder is
removed either way.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import mrml
from .child_process import ChildEvent, ChildProcess, child_command, child_environment
from .child_results import read_child_result
from .errors import CancelledError, ScarSegError
from .pipeline import PipelineOptions
from .study import Study

INPUT_NAME = "input.nrrd"
OUTPUT_NAME = "outputs"


class ChildFailedError(ScarSegError):
    """The child process reported an error or ended without results."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


@dataclass
class BackgroundRun:
    """One Apply running in a child process. Poll it; when finished, load or discard it."""

    child: ChildProcess
    work_dir: Path
    study: Study  # as the child got it (world geometry); the grid the results are read onto
    scene: Any
    volume_id: str
    segmentation_id: str | None = None
    keep_maps: bool = True
    fraction: float = 0.0
    message: str = "starting..."
    output: Path | None = None
    error: str | None = None  # the child's error message, if it reported one
    error_details: str = ""
    events: list[ChildEvent] = field(default_factory=list)

    def poll(self) -> list[ChildEvent]:
        """New events since the last poll (never blocks); updates fraction, message, output."""
        self.child.poll()
        new = self.child.events[len(self.events) :]  # also those a child.wait() polled
        for event in new:
            if event.event == "progress":
                if event.fraction is not None:
                    self.fraction = event.fraction
                if event.message:
                    self.message = event.message
            elif event.event == "done":
                self.output = Path(event.data.get("output", ""))
            elif event.event == "error":
                # a ScarSegError comes without a traceback: its message is meant for the user
                self.error_details = str(event.data.get("details", "") or "")
                kind = event.data.get("error", "Error")
                self.error = f"{kind}: {event.message}" if self.error_details else event.message
        self.events.extend(new)
        return new

    @property
    def finished(self) -> bool:
        return self.child.finished

    @property
    def cancelled(self) -> bool:
        return self.child.cancelled

    @property
    def succeeded(self) -> bool:
        return (
            self.finished
            and not self.cancelled
            and self.child.returncode == 0
            and self.output is not None
            and self.output.is_dir()
        )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the child ends (console, tests); True if it succeeded."""
        self.child.wait(timeout)
        self.poll()
        return self.succeeded

    def cancel(self) -> None:
        """Kill the child (and anything it started) and remove the temporary folder."""
        self.child.cancel()
        self.poll()
        self.cleanup()

    def failure(self) -> ChildFailedError:
        """Why the run did not succeed, as an error to raise or show."""
        if self.cancelled:
            return ChildFailedError("cancelled")
        code = self.child.returncode
        message = self.error or f"the segmentation process ended unexpectedly (exit status {code})"
        details = self.error_details or self.child.output_text()
        return ChildFailedError(message, details)

    def cleanup(self) -> None:
        self.child.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)


def write_child_input(study: Study, path: str | Path) -> Path:
    """The study as an image file with its geometry, as `load_study` reads it back."""
    from .io import write_volume

    return write_volume(path, study.image, study)


def start_background(
    volume_node: Any,
    options: PipelineOptions | None = None,
    segmentation_node: Any = None,
    keep_maps: bool | None = None,
    python: str | None = None,
    env: dict[str, str] | None = None,
) -> BackgroundRun:
    """Validate the volume, write it for the child and start the child; returns at once.

    Raises InputError (as logic.process would) before anything starts for a volume the pipeline
    cannot take. `python`: the interpreter for the child (default: PythonSlicer, else this one);
    `env`: variables to add to the child's environment.
    """
    options = options or PipelineOptions()
    study = mrml.study_from_volume_node(volume_node)
    work_dir = Path(tempfile.mkdtemp(prefix="scarseg-apply-"))
    try:
        input_path = write_child_input(study, work_dir / INPUT_NAME)
        command = child_command(input_path, work_dir / OUTPUT_NAME, asdict(options), python)
        child = ChildProcess(command, {**child_environment(), **(env or {})}).start()
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    return BackgroundRun(
        child=child,
        work_dir=work_dir,
        study=study,
        scene=volume_node.GetScene(),
        volume_id=volume_node.GetID(),
        segmentation_id=segmentation_node.GetID() if segmentation_node is not None else None,
        keep_maps=options.keep_probabilities if keep_maps is None else keep_maps,
    )


def load_background_result(run: BackgroundRun, add_to_scene: Any = None) -> Any:
    """The finished run's results as nodes (logic.ProcessResult), then the temporary folder goes.

    Raises the run's failure (ChildFailedError, CancelledError) when it did not succeed; the scene
    is left as it was in that case, and also when the outputs cannot be read (all files are read
    before the first node is added).
    """
    from .logic import ProcessResult, add_result_to_scene

    add = add_to_scene or add_result_to_scene
    try:
        if run.cancelled:
            raise CancelledError("cancelled")
        if not run.succeeded:
            raise run.failure()
        scene = run.scene
        volume = scene.GetNodeByID(run.volume_id)
        if volume is None:
            raise ScarSegError("the input volume was removed from the scene while it was processed")
        image = volume.GetImageData()
        if image is None or tuple(image.GetDimensions()[::-1]) != tuple(run.study.image.shape):
            raise ScarSegError(
                "the input volume's size changed while it was processed; Apply again"
            )
        segmentation = scene.GetNodeByID(run.segmentation_id) if run.segmentation_id else None
        result = read_child_result(run.output, run.study)
        nodes = add(scene, volume, result, segmentation, keep_maps=run.keep_maps)
    finally:
        run.cleanup()
    return ProcessResult(
        nodes.volume_node, nodes.segmentation_node, nodes.table_nodes, nodes.map_nodes, result
    )
