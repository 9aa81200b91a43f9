"""3D Slicer module: segments in -> numbers, tables and charts out.

Thin GUI over ScarQuantificationLib.mrml_logic.ScarQuantificationHeadlessLogic, which does all the
work on MRML nodes and runs headless (pytest on slicer-core). This file also holds the first-run
installer of the extension's Python requirements (ensurePythonRequirements), shared with
ScarSegmentation, because it needs Qt dialogs and so cannot live in a *Lib package.
"""

import importlib
import importlib.metadata
import logging
import os
import re
import traceback
from typing import Annotated

import numpy as np
import qt
import slicer
import vtk
from ScarQuantificationLib.mrml_logic import ScarQuantificationHeadlessLogic
from slicer import vtkMRMLMarkupsFiducialNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

# Core-scar thresholds in the form ScarQuantificationLib.core_scar.parse_method reads ("fwhm" or
# "<n>sd"), with their labels.
CORE_METHODS = {
    "fwhm": "FWHM (remote + half of the scar maximum above it)",
    "2sd": "Remote myocardium + 2 SD",
    "3sd": "Remote myocardium + 3 SD",
    "5sd": "Remote myocardium + 5 SD",
}

# Table name (key of the dict returned by compute) -> table view widget name in the .ui.
TABLE_VIEWS = {
    "measurements": "measurementsTableView",
    "slices": "slicesTableView",
    "lesions": "lesionsTableView",
    "aha": "ahaTableView",
}
# Chart name (key of the dict returned by createPlots) -> button that shows it.
CHART_BUTTONS = {"bullseye": "showBullseyeButton", "slices": "showSliceChartButton"}
# vtkSegmentation events raised by Segment Editor edits: they make the results stale.
SEGMENT_EDIT_EVENTS = (
    slicer.vtkSegmentation.SegmentModified,
    slicer.vtkSegmentation.SegmentAdded,
    slicer.vtkSegmentation.SegmentRemoved,
)

# First-run installation of Python packages ---------------------------------------------------

# <module folder>/../Resources: the top-level Resources/ in the source tree, <lib>/Resources in
# an installed extension (see the top-level CMakeLists.txt).
REQUIREMENTS_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "Resources", "requirements.txt"
)
_SECTION = re.compile(r"^#\s*\[([\w-]+)\]\s*$")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*(#.*)?$")


def readRequirements(path=REQUIREMENTS_PATH, sections=None):
    """Pinned requirements of the given sections as (name, version, noDeps) tuples."""
    requirements, section = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            header = _SECTION.match(line)
            if header:
                section = header.group(1)
                continue
            pin = _PIN.match(line)
            if pin and (sections is None or section in sections):
                noDeps = bool(pin.group(3)) and "no-deps" in pin.group(3)
                requirements.append((pin.group(1), pin.group(2), noDeps))
    return requirements


def missingRequirements(requirements):
    """Requirements not installed at exactly the pinned version."""
    missing = []
    for name, version, noDeps in requirements:
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            missing.append((name, version, noDeps))
    return missing


def wheelsFolder():
    """Where to put wheels for an offline installation (env SCARSEG_WHEELS overrides)."""
    folder = os.environ.get("SCARSEG_WHEELS")
    if folder:
        return folder
    settingsDir = os.path.dirname(slicer.app.slicerUserSettingsFilePath)
    return os.path.join(settingsDir, "MyocardialScar", "wheels")


def localWheelsArguments():
    """pip arguments that install from the local wheels folder, or [] if it holds no wheel."""
    folder = wheelsFolder()
    if os.path.isdir(folder) and any(f.endswith(".whl") for f in os.listdir(folder)):
        return ["--no-index", "--find-links", folder]
    return []


def offlineHelpText(what):
    return (
        f"Installing {what} failed (the details say why).\n\n"
        "If this computer has no internet access:\n"
        "1. On a computer with internet access and the same operating system and Slicer version, "
        "run in a terminal:\n"
        # --no-deps: the file lists every dependency itself (ultralytics must not pull its own).
        f'   PythonSlicer -m pip download --no-deps -r "{os.path.abspath(REQUIREMENTS_PATH)}" -d wheels\n'
        f"2. Copy the .whl files of the 'wheels' folder into:\n   {wheelsFolder()}\n"
        "   (or set the environment variable SCARSEG_WHEELS to their folder).\n"
        "3. Press Apply (or Compute) again: the packages are then installed from that folder "
        "(pip --no-index --find-links).\n\n"
        "Behind a proxy: set the HTTPS_PROXY environment variable before starting Slicer."
    )


def ensurePythonRequirements(sections=("quantification",), interactive=True):
    """Install the pinned packages of these sections that are missing. True when all are present.

    Runs only when the user first presses Apply/Compute, never at import. Asks first (unless
    interactive is False, e.g. in tests), shows progress, and explains the offline route on failure.
    """
    missing = missingRequirements(readRequirements(REQUIREMENTS_PATH, sections))
    if not missing:
        return True
    listing = "\n".join(f"{name}=={version}" for name, version, _ in missing)
    if interactive and not slicer.util.confirmOkCancelDisplay(
        f"MyocardialScar needs {len(missing)} Python package(s) that are not installed yet "
        "(at the tested versions). Install them now? This takes a few minutes and needs internet "
        "access, or a folder of downloaded wheels (see Details).",
        windowTitle="Install Python packages",
        detailedText=listing + "\n\n" + offlineHelpText("the packages"),
    ):
        return False
    local = localWheelsArguments()
    # One pip call resolves the ordinary pins together; --no-deps lines go in a second call.
    calls = [
        [f"{n}=={v}" for n, v, noDeps in missing if not noDeps],
        [f"{n}=={v}" for n, v, noDeps in missing if noDeps] + ["--no-deps"],
    ]
    calls = [c for c in calls if c and c[0] != "--no-deps"]
    dialog = slicer.util.createProgressDialog(
        labelText="Installing Python packages...", maximum=len(calls)
    )
    try:
        for i, args in enumerate(calls):
            names = [a for a in args if not a.startswith("--")]
            dialog.labelText = (
                f"Installing {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            )
            dialog.value = i
            slicer.app.processEvents()
            slicer.util.pip_install(args + local)
    except Exception:
        dialog.close()
        slicer.util.errorDisplay(
            offlineHelpText("the Python packages"),
            windowTitle="Installation failed",
            detailedText=traceback.format_exc(),
        )
        return False
    dialog.close()
    importlib.invalidate_caches()
    still = missingRequirements(missing)
    if still:
        slicer.util.errorDisplay(
            "These packages are still missing after installation: "
            + ", ".join(n for n, _, _ in still)
            + ". Restart Slicer and try again.",
            windowTitle="Installation incomplete",
        )
        return False
    return True


#
# ScarQuantification
#


class ScarQuantification(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "Scar Quantification"
        self.parent.categories = ["Cardiac"]
        self.parent.dependencies = []
        self.parent.contributors = ["MyocardialScar contributors"]
        self.parent.helpText = """
Quantifies myocardial scar from a segmentation of an LGE cardiac MRI volume: volumes and masses,
scar burden, core scar and gray zone, per-slice and per-lesion tables, transmurality and the
AHA 17-segment bullseye. Works on any segmentation with segments named "Myocardium" (whole LV
myocardium, scar included) and "Scar" (hand-made ones included, for example from Segment Editor):
edit the segments, then press Recompute.
See the <a href="https://github.com/MyocardialScar/SlicerMyocardialScar">extension documentation</a>.
"""
        self.parent.acknowledgementText = """
Core scar by full width at half maximum or n standard deviations above remote myocardium.
AHA segments follow Cerqueira et al., Circulation 105:539-542, 2002.
Code licence Apache-2.0. Research use only, not a medical device.
"""


#
# Parameter node
#


@parameterNodeWrapper
class ScarQuantificationParameterNode:
    segmentation: vtkMRMLSegmentationNode
    volume: vtkMRMLScalarVolumeNode
    rv_insertion: vtkMRMLMarkupsFiducialNode
    core_method: Annotated[str, Choice(list(CORE_METHODS))] = "fwhm"


#
# ScarQuantificationWidget
#


class ScarQuantificationWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._observedSegmentation = None  # vtkSegmentation watched for edits
        self._computing = False
        self._tables = {}
        self._charts = {}

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ScarQuantification.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = ScarQuantificationLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.computeButton.connect("clicked(bool)", self.onComputeButton)
        self.ui.recomputeButton.connect("clicked(bool)", self.onComputeButton)
        self.ui.showBullseyeButton.connect("clicked(bool)", lambda: self.showChart("bullseye"))
        self.ui.showSliceChartButton.connect("clicked(bool)", lambda: self.showChart("slices"))
        self.ui.exportCsvButton.connect("clicked(bool)", self.onExportCsvButton)
        self.ui.exportReportButton.connect("clicked(bool)", self.onExportReportButton)

        self.initializeParameterNode()

    def cleanup(self):
        self.removeObservers()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(
                self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified
            )

    def onSceneStartClose(self, caller, event):
        self.setParameterNode(None)
        self._showResults({}, {})

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())
        pn = self._parameterNode
        if not pn.segmentation:
            pn.segmentation = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
        if not pn.volume:
            pn.volume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def setParameterNode(self, inputParameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(
                self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified
            )
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            labelChoices(self.ui.coreMethodComboBox, CORE_METHODS)
            self.addObserver(
                self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified
            )
        self._onParameterNodeModified()

    def setInputs(self, segmentationNode, volumeNode):
        """Select the nodes to quantify (called by ScarSegmentation's Quantify button)."""
        self.initializeParameterNode()
        self._parameterNode.segmentation = segmentationNode
        self._parameterNode.volume = volumeNode

    def _onParameterNodeModified(self, caller=None, event=None):
        pn = self._parameterNode
        ready = bool(pn and pn.segmentation and pn.volume)
        self.ui.computeButton.enabled = ready and not self._computing
        self.ui.computeButton.toolTip = (
            "Compute the tables and charts from the segmentation."
            if ready
            else "Select a segmentation and the LGE volume it was drawn on."
        )
        self._observeSegmentation(pn.segmentation if pn else None)

    # Edits in Segment Editor ------------------------------------------------------------------

    def _observeSegmentation(self, segmentationNode):
        segmentation = segmentationNode.GetSegmentation() if segmentationNode else None
        if segmentation is self._observedSegmentation:
            return
        if self._observedSegmentation is not None:
            for event in SEGMENT_EDIT_EVENTS:
                self.removeObserver(self._observedSegmentation, event, self._onSegmentationEdited)
        self._observedSegmentation = segmentation
        if segmentation is not None:
            for event in SEGMENT_EDIT_EVENTS:
                self.addObserver(segmentation, event, self._onSegmentationEdited)

    def _onSegmentationEdited(self, caller=None, event=None):
        if self._computing or not self._tables:
            return  # our own compute adds segments; no results yet means nothing is stale
        self.ui.recomputeButton.enabled = True
        self.ui.statusLabel.text = "The segmentation was edited: press Recompute."

    # Actions ---------------------------------------------------------------------------------

    def onComputeButton(self):
        if not ensurePythonRequirements(("quantification",)):
            return
        pn = self._parameterNode
        self._computing = True
        self.ui.computeButton.enabled = False
        self.ui.statusLabel.text = "Computing..."
        slicer.app.processEvents()
        try:
            with slicer.util.tryWithErrorDisplay("Quantification failed.", waitCursor=True):
                tables = self.logic.compute(
                    pn.segmentation,
                    pn.volume,
                    rvInsertionNode=pn.rv_insertion,
                    coreMethod=pn.core_method,
                )
                charts = self.logic.createPlots(tables)
                self._showResults(tables, charts)
                self.ui.recomputeButton.enabled = False
                self.ui.statusLabel.text = f"Computed {len(tables)} table(s): {', '.join(tables)}."
        finally:
            self._computing = False
            self._onParameterNodeModified()

    def _showResults(self, tables, charts):
        self._tables, self._charts = dict(tables), dict(charts)
        for index, (name, viewName) in enumerate(TABLE_VIEWS.items()):
            getattr(self.ui, viewName).setMRMLTableNode(self._tables.get(name))
            self.ui.tablesTabWidget.setTabEnabled(index, name in self._tables)
        for name, buttonName in CHART_BUTTONS.items():
            getattr(self.ui, buttonName).enabled = name in self._charts
        self.ui.exportCsvButton.enabled = bool(self._tables)
        self.ui.exportReportButton.enabled = bool(self._tables)
        if "bullseye" in self._charts:
            self.showChart("bullseye")

    def showChart(self, name):
        chart = self._charts.get(name)
        if chart is not None:
            slicer.modules.plots.logic().ShowChartInLayout(chart)

    def onExportCsvButton(self):
        folder = qt.QFileDialog.getExistingDirectory(
            slicer.util.mainWindow(), "Export tables as CSV", qt.QDir.homePath()
        )
        if not folder:
            return
        with slicer.util.tryWithErrorDisplay("Export failed.", waitCursor=True):
            written = self.logic.export(self._tables, folder)
            self.ui.statusLabel.text = f"Wrote {len(written)} file(s) to {folder}."

    def onExportReportButton(self):
        pn = self._parameterNode
        name = pn.segmentation.GetName() if pn.segmentation else "scar"
        path = qt.QFileDialog.getSaveFileName(
            slicer.util.mainWindow(),
            "Save PNG report",
            os.path.join(qt.QDir.homePath(), f"{name} report.png"),
            "PNG image (*.png)",
        )
        if not path:
            return
        with slicer.util.tryWithErrorDisplay("Saving the report failed.", waitCursor=True):
            written = self.logic.saveReport(
                self._tables, path, segmentationNode=pn.segmentation, volumeNode=pn.volume
            )
            self.ui.statusLabel.text = f"Report saved: {written}"


def labelChoices(comboBox, labels):
    """Readable item texts for a combo box filled by the parameter node wrapper with raw values.

    The wrapper maps items by index, so only the displayed text changes.
    """
    for index, value in enumerate(labels):
        if index < comboBox.count:
            comboBox.setItemText(index, labels[value])


#
# ScarQuantificationLogic
#


class ScarQuantificationLogic(ScriptedLoadableModuleLogic, ScarQuantificationHeadlessLogic):
    """Slicer entry point; all computation is in ScarQuantificationHeadlessLogic.

    Console use:
        logic = slicer.util.getModuleLogic("ScarQuantification")
        tables = logic.compute(segmentationNode, volumeNode)  # dict name -> vtkMRMLTableNode
    """

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        ScarQuantificationHeadlessLogic.__init__(self, scene=slicer.mrmlScene)

    def getParameterNode(self):
        return ScarQuantificationParameterNode(super().getParameterNode())


#
# ScarQuantificationTest
#


class ScarQuantificationTest(ScriptedLoadableModuleTest):
    """Quantifies a synthetic LV ring whose scar is a known quarter of the myocardium."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_QuarterScarRing()

    def test_QuarterScarRing(self):
        self.assertTrue(ensurePythonRequirements(("quantification",), interactive=False))
        volume, segmentation = self._ringPhantom()
        tables = ScarQuantificationLogic().compute(segmentation, volume)
        self.assertIn("measurements", tables)
        measurements = tables["measurements"]
        column = measurements.GetTable().GetColumnByName("scar_burden_pct")
        self.assertIsNotNone(column, "measurements table has no 'scar_burden_pct' column")
        burden = float(column.GetValue(0))
        # The scar is a 90-degree sector of a circular ring: 25 % up to pixelation.
        self.assertAlmostEqual(burden, 25.0, delta=2.0)
        self.delayDisplay(f"Quarter-ring scar burden {burden:.1f} %")

    @staticmethod
    def _ringPhantom():
        """LGE-like volume (k, j, i) with a myocardial ring and a bright 90-degree scar sector."""
        k, size = 6, 96
        jj, ii = np.mgrid[0:size, 0:size] - (size - 1) / 2.0
        radius = np.hypot(jj, ii)
        angle = np.degrees(np.arctan2(jj, ii)) % 360
        blood = radius < 18
        myocardium = (radius >= 18) & (radius < 28)
        scar = myocardium & (angle < 90)
        image = np.full((size, size), 100.0)
        image[blood] = 400.0
        image[myocardium] = 60.0
        image[scar] = 500.0
        volumeArray = np.repeat(image[None], k, axis=0).astype(np.float32)
        ijkToRas = vtk.vtkMatrix4x4()
        for axis, spacing in enumerate((1.5, 1.5, 8.0)):
            ijkToRas.SetElement(axis, axis, spacing)
        volume = slicer.util.addVolumeFromArray(volumeArray, ijkToRAS=ijkToRas, name="Phantom LGE")
        segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Phantom")
        segmentation.CreateDefaultDisplayNodes()
        segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        # One labelmap per segment because Scar overlaps Myocardium (static logic method: works
        # without the Segmentations module widget, so also headless).
        for name, mask in (("Myocardium", myocardium), ("Blood pool", blood), ("Scar", scar)):
            labels = np.repeat(mask[None], k, axis=0).astype(np.uint8)
            labelmap = slicer.util.addVolumeFromArray(
                labels, ijkToRAS=ijkToRas, name=name, nodeClassName="vtkMRMLLabelMapVolumeNode"
            )
            segments = segmentation.GetSegmentation()
            before = segments.GetNumberOfSegments()
            slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(
                labelmap, segmentation
            )
            segments.GetNthSegment(before).SetName(name)
            slicer.mrmlScene.RemoveNode(labelmap)
        logging.info("ScarQuantificationTest: phantom ready")
        return volume, segmentation
