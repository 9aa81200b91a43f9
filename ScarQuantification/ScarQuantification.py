"""3D Slicer module: segments in -> numbers, tables and charts out.

Thin GUI over ScarQuantificationLib.mrml_logic.ScarQuantificationHeadlessLogic, which does all the
work on MRML nodes and runs headless (pytest on slicer-core). The first-run installer of the
extension's Python requirements is ScarQuantificationLib.slicer_install (decisions in install.py),
shared with ScarSegmentation.
"""

import logging
import os
from typing import Annotated

import numpy as np
import qt
import slicer
import vtk
from ScarQuantificationLib.mrml_logic import ScarQuantificationHeadlessLogic
from ScarQuantificationLib.slicer_install import ensure_requirements
from slicer import vtkMRMLMarkupsFiducialNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

# Core-scar thresholds by the names ScarQuantificationLib.core_scar reads ("fwhm-remote", "fwhm"
# or "<n>sd"; docs/METRICS.md), with their labels; the first is the default.
CORE_METHODS = {
    "fwhm-remote": "FWHM above remote (remote + half of the scar maximum above it)",
    "fwhm": "FWHM, literature (half the scar maximum; magnitude images only)",
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
    core_method: Annotated[str, Choice(list(CORE_METHODS))] = "fwhm-remote"


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
        if not ensure_requirements(("quantification",)):
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
        self.assertTrue(ensure_requirements(("quantification",), interactive=False))
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
