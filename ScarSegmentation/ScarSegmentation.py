"""3D Slicer module: LGE study in -> myocardium and scar segments out.

Thin GUI over ScarSegmentationLib.logic.ScarSegmentationHeadlessLogic, which runs the pipeline on
MRML nodes and also serves the Python console and the `scarseg` command line. Only this file (and
ScarQuantification.py) imports qt.
"""

import logging
import os
import threading
import traceback
from typing import Annotated

import qt
import slicer
import vtk
from ScarSegmentationLib.logic import ScarSegmentationHeadlessLogic
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from ScarQuantification import (
    CORE_METHODS,
    ensurePythonRequirements,
    labelChoices,
    localWheelsArguments,
    offlineHelpText,
    wheelsFolder,
)

# Sample data: EMIDEC Case_P100 (CC BY-NC-SA 4.0). Until both constants are set the sample is
# not registered and the in-Slicer test says so.
SAMPLE_URL = ""  # TODO(lead): public URL of the Case_P100 LGE image (.nii.gz)
SAMPLE_SHA256 = ""  # TODO(lead): SHA256 of the file at SAMPLE_URL
SAMPLE_NAME = "EMIDEC Case_P100"
SAMPLE_ATTRIBUTION = (
    "EMIDEC Case_P100: Lalande A, Chen Z, Decourselle T, et al. EMIDEC: a database usable for the "
    "automatic evaluation of myocardial infarction from delayed-enhancement cardiac MRI. "
    "Data 5(4):89, 2020. Licence CC BY-NC-SA 4.0."
)

SCAR_METHODS = {
    "auto": "Best validated method",
    "unet": "U-Net scar head",
    "network": "Detector + SAM network",
    "fused": "Detector + SAM fused with the U-Net head",
    "threshold": "FWHM threshold inside the myocardium",
}
DEVICES = {"cpu": "CPU", "cuda": "GPU (CUDA, needs onnxruntime-gpu)"}
# Parameter-node fields that are PipelineOptions fields of the same name (device is GUI-only).
PIPELINE_FIELDS = ("mc_samples", "scar_method", "core_method", "keep_probabilities")
# Summary label -> (column of the "measurements" table, unit, decimals).
SUMMARY = {
    "scarBurdenValueLabel": ("scar_burden_pct", "%", 1),
    "scarMassValueLabel": ("scar_mass_g", "g", 1),
    "myocardiumMassValueLabel": ("myocardium_mass_g", "g", 1),
}

LICENCE_SETTINGS_KEY = "MyocardialScar/WeightsLicenceAccepted"
LICENCE_TEXT = (
    "The MyocardialScar models were trained on the EMIDEC dataset (Lalande et al., Data 2020), "
    "which is licensed CC BY-NC-SA 4.0. The model weights carry the same licence:\n"
    "  - non-commercial use only;\n"
    "  - give attribution to EMIDEC;\n"
    "  - share adaptations (such as fine-tuned weights) under the same licence.\n"
    "The scar detector uses ultralytics (AGPL-3.0).\n\n"
    "Research use only: not a medical device, not for clinical decisions.\n\n"
    "Press OK to accept these terms (asked once)."
)


def registerSampleData():
    """Add Case_P100 to the Sample Data module (called once Slicer has started)."""
    if not (SAMPLE_URL and SAMPLE_SHA256):
        logging.info("ScarSegmentation: sample data URL not configured; sample not registered")
        return
    import SampleData

    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category="Cardiac",
        sampleName=SAMPLE_NAME,
        thumbnailFileName=os.path.join(
            os.path.dirname(__file__), "Resources", "Icons", "ScarSegmentation.png"
        ),
        uris=SAMPLE_URL,
        fileNames="Case_P100.nii.gz",
        nodeNames="Case_P100",
        checksums=f"SHA256:{SAMPLE_SHA256}",
        loadFileType="VolumeFile",
    )


#
# ScarSegmentation
#


class ScarSegmentation(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "Scar Segmentation"
        self.parent.categories = ["Cardiac"]
        self.parent.dependencies = ["ScarQuantification"]
        self.parent.contributors = ["MyocardialScar contributors"]
        self.parent.helpText = """
Segments the left-ventricular myocardium, blood pool and scar (core, gray zone, no-reflow) in a
short-axis late gadolinium enhancement (LGE) MRI volume, on the CPU. Select the volume, press
Apply, then Quantify for tables and the bullseye. The first Apply installs the Python packages
the models need (ONNX Runtime and a few others; no PyTorch).
Console: <code>logic = slicer.util.getModuleLogic("ScarSegmentation");
result = logic.process(volumeNode)</code>.
See the <a href="https://github.com/MyocardialScar/SlicerMyocardialScar">extension documentation</a>.
"""
        self.parent.acknowledgementText = f"""
Models trained on the EMIDEC dataset: {SAMPLE_ATTRIBUTION}
Model weights: CC BY-NC-SA 4.0, non-commercial use only. Scar detector: ultralytics (AGPL-3.0).
Code licence Apache-2.0. Research use only, not a medical device.
"""
        slicer.app.connect("startupCompleted()", registerSampleData)


#
# Parameter node
#


@parameterNodeWrapper
class ScarSegmentationParameterNode:
    input_volume: vtkMRMLScalarVolumeNode
    output_segmentation: vtkMRMLSegmentationNode
    mc_samples: Annotated[int, WithinRange(0, 32)] = 4
    scar_method: Annotated[str, Choice(list(SCAR_METHODS))] = "auto"
    core_method: Annotated[str, Choice(list(CORE_METHODS))] = "fwhm"
    device: Annotated[str, Choice(list(DEVICES))] = "cpu"
    keep_probabilities: bool = True


#
# ScarSegmentationWidget
#


class ScarSegmentationWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._cancel = None  # threading.Event while the pipeline runs, else None

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ScarSegmentation.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = ScarSegmentationLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.quantifyButton.connect("clicked(bool)", self.onQuantifyButton)
        self.ui.show3DButton.connect("clicked(bool)", self.onShow3DButton)

        self.initializeParameterNode()

    def cleanup(self):
        if self._cancel is not None:
            self._cancel.set()
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
        if self._cancel is not None:
            self._cancel.set()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.input_volume:
            volume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if volume:
                self._parameterNode.input_volume = volume

    def setParameterNode(self, inputParameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(
                self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified
            )
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            labelChoices(self.ui.scarMethodComboBox, SCAR_METHODS)
            labelChoices(self.ui.coreMethodComboBox, CORE_METHODS)
            labelChoices(self.ui.deviceComboBox, DEVICES)
            self.addObserver(
                self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified
            )
        self._onParameterNodeModified()

    def _onParameterNodeModified(self, caller=None, event=None):
        if self._cancel is not None:
            return  # running: the button is Cancel and stays enabled
        pn = self._parameterNode
        volume = pn.input_volume if pn else None
        self.ui.applyButton.enabled = volume is not None
        self.ui.applyButton.toolTip = (
            "Segment myocardium and scar." if volume else "Select an LGE volume first."
        )
        if volume:
            self.ui.outputSegmentationSelector.baseName = f"{volume.GetName()} scar segmentation"
        hasOutput = bool(pn and pn.output_segmentation)
        self.ui.quantifyButton.enabled = hasOutput and volume is not None
        self.ui.show3DButton.enabled = hasOutput

    # Running the pipeline ----------------------------------------------------------------------

    def onApplyButton(self):
        if self._cancel is not None:  # the button reads Cancel while running
            self._cancel.set()
            self.ui.applyButton.enabled = False
            self.ui.statusLabel.text = "Cancelling after the current step..."
            return
        if not self._acceptLicence():
            return
        if not ensurePythonRequirements(("quantification", "segmentation")):
            self.ui.statusLabel.text = "Python packages missing: see the message shown."
            return
        pn = self._parameterNode
        if pn.device == "cuda" and not self._cudaAvailable():
            slicer.util.errorDisplay(
                "No CUDA GPU is available to ONNX Runtime. Choose CPU under Advanced, or install "
                "onnxruntime-gpu (matching your CUDA) in Slicer's Python and restart Slicer."
            )
            return
        from ScarSegmentationLib.errors import CancelledError, ScarSegError

        self.logic.setParametersFromNode(pn)
        self._setRunning(True)
        try:
            result = self.logic.process(
                pn.input_volume,
                pn.output_segmentation,
                progress=self._onProgress,
                cancel=self._cancel,
            )
        except CancelledError:
            self.ui.statusLabel.text = "Cancelled: the scene was left unchanged."
        except ScarSegError as error:  # a problem with the input the user can act on
            self.ui.statusLabel.text = f"Failed: {error}"
            slicer.util.errorDisplay(str(error), windowTitle="Scar segmentation")
        except Exception as error:
            self.ui.statusLabel.text = f"Failed: {error}"
            slicer.util.errorDisplay(
                f"Scar segmentation failed: {error}",
                windowTitle="Scar segmentation",
                detailedText=traceback.format_exc(),
            )
        else:
            pn.output_segmentation = result.segmentation_node
            self._showResult(result)
        finally:
            self._setRunning(False)

    def _onProgress(self, fraction, message):
        """Pipeline progress callback, called between slices and stages on the GUI thread.

        Processing Qt events here keeps Slicer responsive and lets the Cancel click arrive; the
        pipeline checks the cancel event at its next progress call.
        """
        self.ui.progressBar.value = int(round(100 * max(0.0, min(1.0, fraction))))
        self.ui.statusLabel.text = message
        slicer.app.processEvents()

    def _setRunning(self, running):
        self._cancel = threading.Event() if running else None
        for name in (
            "inputsCollapsibleButton",
            "advancedCollapsibleButton",
            "resultsCollapsibleButton",
        ):
            getattr(self.ui, name).enabled = not running
        self.ui.applyButton.text = "Cancel" if running else "Apply"
        self.ui.applyButton.enabled = True
        if running:
            self.ui.progressBar.value = 0
            self.ui.statusLabel.text = "Starting..."
        else:
            self._onParameterNodeModified()

    def _showResult(self, result):
        tables = result.result.tables
        measurements = tables.get("measurements")
        for labelName, (column, unit, decimals) in SUMMARY.items():
            getattr(self.ui, labelName).text = summaryText(measurements, column, unit, decimals)
        seconds = result.result.seconds.get("total")
        notes = "; ".join(result.result.notes)
        self.ui.statusLabel.text = (
            f"Done in {seconds:.0f} s." if seconds is not None else "Done."
        ) + (f" {notes}" if notes else "")
        result.segmentation_node.CreateDefaultDisplayNodes()  # no-op when it has one already
        slicer.util.setSliceViewerLayers(background=self._parameterNode.input_volume, fit=True)

    # Results ---------------------------------------------------------------------------------

    def onQuantifyButton(self):
        pn = self._parameterNode
        slicer.util.selectModule("ScarQuantification")
        slicer.util.getModuleWidget("ScarQuantification").setInputs(
            pn.output_segmentation, pn.input_volume
        )

    def onShow3DButton(self):
        segmentation = self._parameterNode.output_segmentation
        if segmentation is None:
            return
        segmentation.CreateClosedSurfaceRepresentation()
        layoutManager = slicer.app.layoutManager()
        if layoutManager and layoutManager.threeDViewCount > 0:
            layoutManager.threeDWidget(0).threeDView().resetFocalPoint()

    # First use ---------------------------------------------------------------------------------

    @staticmethod
    def _acceptLicence():
        settings = qt.QSettings()
        if settings.value(LICENCE_SETTINGS_KEY) == "accepted":
            return True
        if not slicer.util.confirmOkCancelDisplay(LICENCE_TEXT, windowTitle="Model licence"):
            return False
        settings.setValue(LICENCE_SETTINGS_KEY, "accepted")
        return True

    @staticmethod
    def _cudaAvailable():
        from ScarSegmentationLib.runtime import session

        return session.cuda_available()


def summaryText(table, column, unit, decimals):
    """First value of a column of a ScarQuantificationLib Table, or "n/a" if absent."""
    try:
        value = table.values(column)[0] if table is not None else None
    except (KeyError, IndexError):
        value = None
    if value is None:
        return "n/a"
    return f"{float(value):.{decimals}f} {unit}"


#
# ScarSegmentationLogic
#


class ScarSegmentationLogic(ScriptedLoadableModuleLogic, ScarSegmentationHeadlessLogic):
    """Slicer entry point; all computation is in ScarSegmentationHeadlessLogic.

    Console use:
        logic = slicer.util.getModuleLogic("ScarSegmentation")
        result = logic.process(volumeNode)  # result.segmentation_node, result.table_nodes, ...
    """

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        ScarSegmentationHeadlessLogic.__init__(self, scene=slicer.mrmlScene)

    def getParameterNode(self):
        return ScarSegmentationParameterNode(super().getParameterNode())

    def setParametersFromNode(self, parameterNode=None):
        """Pipeline options (and device) from the module's parameter node, as the GUI set them."""
        from ScarSegmentationLib.pipeline import PipelineOptions

        pn = parameterNode or self.getParameterNode()
        fields = {name: getattr(pn, name) for name in PIPELINE_FIELDS}
        self.options = PipelineOptions(**fields, device=pn.device)
        self.device = pn.device


#
# ScarSegmentationTest
#


class ScarSegmentationTest(ScriptedLoadableModuleTest):
    """Runs the whole pipeline on the EMIDEC sample case."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_ProcessSample()

    def test_ProcessSample(self):
        if not (SAMPLE_URL and SAMPLE_SHA256):
            self.delayDisplay("Sample URL not configured: ScarSegmentationTest did not run")
            return
        self.assertTrue(
            ensurePythonRequirements(("quantification", "segmentation"), interactive=False)
        )
        import SampleData

        registerSampleData()
        volume = SampleData.downloadSample(SAMPLE_NAME)
        self.assertIsNotNone(volume)

        result = ScarSegmentationLogic().process(volume)

        segmentation = result.segmentation_node.GetSegmentation()
        names = {
            segmentation.GetNthSegment(i).GetName()
            for i in range(segmentation.GetNumberOfSegments())
        }
        for name in ("Myocardium", "Blood pool", "Scar"):
            self.assertIn(name, names)
        myocardiumId = segmentation.GetSegmentIdBySegmentName("Myocardium")
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(
            result.segmentation_node, myocardiumId, volume
        )
        self.assertGreater(int(mask.sum()), 0, "empty myocardium")
        self.assertIn("measurements", result.table_nodes)
        self.delayDisplay("ScarSegmentationTest passed")
