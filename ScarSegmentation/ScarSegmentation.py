"""3D Slicer module: LGE study in -> myocardium and scar segments out.

Thin GUI over ScarSegmentationLib.logic.ScarSegmentationHeadlessLogic, which runs the pipeline on
MRML nodes and also serves the Python console and the `scarseg` command line. Only this file (and
ScarQuantification.py) imports qt. Apply runs the pipeline in a child process
(ScarSegmentationLib/background.py, child_process.py); this widget only polls it from a QTimer,
so Slicer stays responsive and Cancel ends the child at once.
"""

import logging
import os
import traceback
from pathlib import Path
from typing import Annotated

import qt
import slicer
import vtk
from ScarQuantificationLib.slicer_install import ensure_requirements
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

from ScarQuantification import CORE_METHODS, labelChoices

# Sample data: EMIDEC Case_P100 (CC BY-NC-SA 4.0; attribution and licence in its README.md),
# shipped in <module folder>/../Resources/SampleData: the top-level Resources/ in the source tree,
# <lib>/Resources in an installed extension (see the top-level CMakeLists.txt). Sample Data copies
# it into its cache from these file:// URIs and checks the SHA256.
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "Resources" / "SampleData"
SAMPLE_PATH = SAMPLE_DIR / "Case_P100.nii.gz"
SAMPLE_LABELS_PATH = SAMPLE_DIR / "Case_P100_labels.nii.gz"
SAMPLE_URL = SAMPLE_PATH.as_uri()
SAMPLE_LABELS_URL = SAMPLE_LABELS_PATH.as_uri()
SAMPLE_SHA256 = "03a47f781f58a27c8538bb2f1829d02537d138a6da2f6983a60fd456d7456200"
SAMPLE_LABELS_SHA256 = "2984aee3b55d5e295c6f7b57046a66018e19522b665807548ce9beb157b7764a"
SAMPLE_NAME = "EMIDEC Case_P100"
SAMPLE_ATTRIBUTION = (
    "EMIDEC Case_P100: Lalande A, Chen Z, Decourselle T, et al. EMIDEC: a database usable for the "
    "automatic evaluation of myocardial infarction from delayed-enhancement cardiac MRI. "
    "Data 5(4):89, 2020. Licence CC BY-NC-SA 4.0."
)
# Least Dice of the in-Slicer test's result against the sample's reference labels (EMIDEC
# convention). Four of the five scar_unet ensemble members trained on this case (the fifth
# held it out), so this checks that the module works, not how accurate it is.
SAMPLE_MIN_DICE = {"Myocardium": 0.75, "Blood pool": 0.85, "Scar": 0.5}

SCAR_METHODS = {
    "auto": "Best validated method",
    "unet": "U-Net scar head",
    "network": "Detector + SAM network",
    "fused": "Detector + SAM fused with the U-Net head",
    "threshold": "FWHM threshold inside the myocardium",
}
DEVICES = {"cpu": "CPU", "cuda": "GPU (CUDA, needs onnxruntime-gpu)"}
# Parameter-node fields that are PipelineOptions fields of the same name (device is GUI-only).
PIPELINE_FIELDS = (
    "mc_samples",
    "scar_method",
    "core_method",
    "keep_probabilities",
    "scar_presence",
    "refine_wall",
)
# Summary label -> (column of the "measurements" table, unit, decimals).
SUMMARY = {
    "scarBurdenValueLabel": ("scar_burden_pct", "%", 1),
    "scarMassValueLabel": ("scar_mass_g", "g", 1),
    "myocardiumMassValueLabel": ("myocardium_mass_g", "g", 1),
}

# How often the widget reads the background run's progress lines (ms).
POLL_INTERVAL_MS = 100

LICENCE_SETTINGS_KEY = "MyocardialScar/WeightsLicenceAccepted"
LICENCE_TEXT = (
    "The MyocardialScar models were trained on the EMIDEC dataset (Lalande et al., Data 2020), "
    "which is licensed CC BY-NC-SA 4.0. The model weights carry the same licence:\n"
    "  - non-commercial use only;\n"
    "  - give attribution to EMIDEC;\n"
    "  - share adaptations (such as fine-tuned weights) under the same licence.\n"
    "The scar detector was trained with ultralytics (AGPL-3.0).\n\n"
    "Research use only: not a medical device, not for clinical decisions.\n\n"
    "Press OK to accept these terms (asked once)."
)


def registerSampleData():
    """Add Case_P100 (LGE image and reference labels) to the Sample Data module."""
    import SampleData

    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category="Cardiac",
        sampleName=SAMPLE_NAME,
        thumbnailFileName=os.path.join(
            os.path.dirname(__file__), "Resources", "Icons", "ScarSegmentation.png"
        ),
        uris=[SAMPLE_URL, SAMPLE_LABELS_URL],
        fileNames=[SAMPLE_PATH.name, SAMPLE_LABELS_PATH.name],
        nodeNames=["Case_P100", "Case_P100 reference"],
        checksums=[f"SHA256:{SAMPLE_SHA256}", f"SHA256:{SAMPLE_LABELS_SHA256}"],
        loadFileType=["VolumeFile", "SegmentationFile"],
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
Apply, then Quantify for tables and the bullseye. For a volume loaded from DICOM, Export DICOM SEG
saves the segments as a DICOM SEG object over that series. The first Apply installs the Python
packages the models need (ONNX Runtime and a few others; no PyTorch; nothing Slicer ships and no
newer version already installed is replaced).
Console: <code>logic = slicer.util.getModuleLogic("ScarSegmentation");
result = logic.process(volumeNode)</code>.
See the <a href="https://github.com/MyocardialScar/SlicerMyocardialScar">extension documentation</a>.
"""
        self.parent.acknowledgementText = f"""
Models trained on the EMIDEC dataset: {SAMPLE_ATTRIBUTION}
Model weights: CC BY-NC-SA 4.0, non-commercial use only. Scar detector trained with ultralytics (AGPL-3.0).
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
    core_method: Annotated[str, Choice(list(CORE_METHODS))] = "fwhm-remote"
    device: Annotated[str, Choice(list(DEVICES))] = "cpu"
    keep_probabilities: bool = True
    scar_presence: bool = True
    refine_wall: bool = True


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
        self._run = None  # the BackgroundRun while the pipeline runs, else None
        self._pollTimer = None

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ScarSegmentation.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = ScarSegmentationLogic()

        # Polls the background run: progress lines in, results loaded when the child is done.
        self._pollTimer = qt.QTimer()
        self._pollTimer.setInterval(POLL_INTERVAL_MS)
        self._pollTimer.connect("timeout()", self._onPollTimer)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.quantifyButton.connect("clicked(bool)", self.onQuantifyButton)
        self.ui.show3DButton.connect("clicked(bool)", self.onShow3DButton)
        self.ui.exportDicomSegButton.connect("clicked(bool)", self.onExportDicomSegButton)

        self.initializeParameterNode()

    def cleanup(self):
        self._cancelRun()
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
        if self._cancelRun():
            self.ui.statusLabel.text = "Cancelled: the scene was closed."
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
        if self._run is not None:
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
        self.ui.exportDicomSegButton.enabled = hasOutput and volume is not None

    # Running the pipeline ----------------------------------------------------------------------

    def onApplyButton(self):
        if self._run is not None:  # the button reads Cancel while running
            self._cancelRun()
            self.ui.statusLabel.text = "Cancelled: the scene was left unchanged."
            return
        if not self._acceptLicence():
            return
        if not ensure_requirements(("quantification", "segmentation")):
            self.ui.statusLabel.text = "Python packages missing: see the message shown."
            return
        pn = self._parameterNode
        if pn.device == "cuda" and not self._cudaAvailable():
            slicer.util.errorDisplay(
                "No CUDA GPU is available to ONNX Runtime. Choose CPU under Advanced, or install "
                "onnxruntime-gpu (matching your CUDA) in Slicer's Python and restart Slicer."
            )
            return

        self.logic.setParametersFromNode(pn)
        try:
            # Validates the volume and writes it for the child; the child starts and this returns.
            run = self.logic.startBackground(pn.input_volume, pn.output_segmentation)
        except Exception as error:  # noqa: BLE001 - shown to the user, nothing started
            self._showFailure(error, "could not start")
            return
        self._run = run
        self._setRunning(True)
        self._pollTimer.start()

    def _showFailure(self, error, what):
        """A problem the user can act on (ScarSegError: the input, the models, the child's own
        report) shows its message; anything else also the traceback."""
        from ScarSegmentationLib.errors import ScarSegError

        self.ui.statusLabel.text = f"Failed: {error}"
        if isinstance(error, ScarSegError):
            details = getattr(error, "details", "")
            extra = {"detailedText": details} if details else {}
            slicer.util.errorDisplay(str(error), windowTitle="Scar segmentation", **extra)
        else:
            slicer.util.errorDisplay(
                f"Scar segmentation {what}: {error}",
                windowTitle="Scar segmentation",
                detailedText=traceback.format_exc(),
            )

    def _onPollTimer(self):
        """Progress from the child's lines; when it has ended, its results into the scene."""
        run = self._run
        if run is None:
            self._pollTimer.stop()
            return
        run.poll()
        self.ui.progressBar.value = int(round(100 * run.fraction))
        self.ui.statusLabel.text = run.message
        if not run.finished:
            return
        self._pollTimer.stop()
        self._run = None

        try:
            result = self.logic.loadBackground(run)
        except Exception as error:  # noqa: BLE001 - shown to the user, the scene unchanged
            self._showFailure(error, "failed")
        else:
            self._parameterNode.output_segmentation = result.segmentation_node
            self._showResult(result)
        finally:
            self._setRunning(False)

    def _cancelRun(self):
        """Kill the running child (it ends within about a second); True if one was running."""
        run, self._run = self._run, None
        if self._pollTimer is not None:
            self._pollTimer.stop()
        if run is None:
            return False
        run.cancel()
        self._setRunning(False)
        return True

    def _setRunning(self, running):
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

    def onExportDicomSegButton(self):
        """The segments as a DICOM SEG over the input's DICOM series (to send back to PACS)."""
        pn = self._parameterNode
        segmentation, volume = pn.output_segmentation, pn.input_volume
        if segmentation is None or volume is None:
            return
        if not ensure_requirements(("dicomseg",)):
            self.ui.statusLabel.text = "highdicom is missing: see the message shown."
            return
        path = qt.QFileDialog.getSaveFileName(
            slicer.util.mainWindow(),
            "Export DICOM SEG",
            os.path.join(qt.QDir.homePath(), f"{volume.GetName()} segmentation.dcm"),
            "DICOM files (*.dcm)",
        )
        if not path:
            return
        from ScarSegmentationLib.errors import ScarSegError

        try:
            written = self.logic.exportDicomSeg(segmentation, volume, path)
        except ScarSegError as error:  # not a DICOM volume, source files gone, ...
            slicer.util.errorDisplay(str(error), windowTitle="Export DICOM SEG")
            return
        except Exception as error:
            slicer.util.errorDisplay(
                f"DICOM SEG export failed: {error}",
                windowTitle="Export DICOM SEG",
                detailedText=traceback.format_exc(),
            )
            return
        self.ui.statusLabel.text = (
            f"Wrote {written}. Import it into the DICOM database to send it to PACS."
        )

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

    Console use (synchronous, in Slicer's process):
        logic = slicer.util.getModuleLogic("ScarSegmentation")
        result = logic.process(volumeNode)  # result.segmentation_node, result.table_nodes, ...
    In the background (what Apply does): run = logic.startBackground(volumeNode), then poll
    run.poll() / run.finished and call logic.loadBackground(run), or run.cancel().
    DICOM SEG: logic.exportDicomSeg(result.segmentation_node, volumeNode, "segmentation.dcm").
    """

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        ScarSegmentationHeadlessLogic.__init__(self, scene=slicer.mrmlScene)

    def getParameterNode(self):
        return ScarSegmentationParameterNode(super().getParameterNode())

    def exportDicomSeg(self, segmentationNode, volumeNode, path):
        """Write the segments as a DICOM SEG over the DICOM series volumeNode was loaded from
        (found in Slicer's DICOM database); returns the path. ScarSegError says why not."""
        from ScarSegmentationLib.mrml_dicom_seg import export_dicom_seg, source_files_of_volume

        database = getattr(slicer, "dicomDatabase", None)
        files = source_files_of_volume(volumeNode, database.fileForInstance if database else None)
        return export_dicom_seg(segmentationNode, volumeNode, path, files)

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
        self.setUp()
        self.test_ApplyInBackground()

    def test_ApplyInBackground(self):
        """What Apply does: the pipeline in PythonSlicer on the synthetic phantom, results loaded
        into the scene; then a second run cancelled, leaving the scene as it was."""
        import time

        self.assertTrue(ensure_requirements(("quantification", "segmentation"), interactive=False))
        from ScarSegmentationLib import mrml
        from ScarSegmentationLib.phantom import make_phantom

        study, _ = make_phantom(seed=3)
        volume = mrml.volume_node_from_study(slicer.mrmlScene, study, "phantom")
        logic = ScarSegmentationLogic()

        run = logic.startBackground(volume)
        deadline = time.monotonic() + 600
        while not run.finished and time.monotonic() < deadline:
            run.poll()
            slicer.app.processEvents()
            time.sleep(0.05)
        run.poll()
        self.assertTrue(run.succeeded, str(run.failure()))
        result = logic.loadBackground(run)
        segmentation = result.segmentation_node.GetSegmentation()
        for name in ("Myocardium", "Blood pool", "Scar"):
            self.assertTrue(segmentation.GetSegmentIdBySegmentName(name), name)
        self.assertIn("measurements", result.table_nodes)

        count = slicer.mrmlScene.GetNumberOfNodes()
        run = logic.startBackground(volume)
        while not any(e.event == "progress" for e in run.events):
            self.assertLess(time.monotonic(), deadline, "no progress from the child")
            run.poll()
            time.sleep(0.02)
        started = time.monotonic()
        run.cancel()
        self.assertLess(time.monotonic() - started, 2.0)
        self.assertTrue(run.finished and run.cancelled)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodes(), count)
        self.delayDisplay("Apply in the background: passed")

    def test_ProcessSample(self):
        """The shipped EMIDEC Case_P100 from Sample Data, segmented with the default options;
        segments, tables and the Dice against the shipped reference labels checked."""
        self.assertTrue(SAMPLE_PATH.is_file(), f"sample not shipped: {SAMPLE_PATH}")
        self.assertTrue(ensure_requirements(("quantification", "segmentation"), interactive=False))
        import SampleData

        registerSampleData()
        volume = SampleData.downloadSample(SAMPLE_NAME)
        self.assertIsNotNone(volume)
        self.assertEqual(volume.GetName(), "Case_P100")

        result = ScarSegmentationLogic().process(volume)

        segmentation = result.segmentation_node.GetSegmentation()
        names = {
            segmentation.GetNthSegment(i).GetName()
            for i in range(segmentation.GetNumberOfSegments())
        }
        for name in ("Myocardium", "Blood pool", "Scar"):
            self.assertIn(name, names)
        for table in ("measurements", "slices", "lesions", "aha"):
            self.assertIn(table, result.table_nodes)
            self.assertGreater(result.table_nodes[table].GetNumberOfRows(), 0, table)
        burden = result.table_nodes["measurements"].GetTable().GetColumnByName("scar_burden_pct")
        self.assertIsNotNone(burden)
        self.assertTrue(1.0 < burden.GetValue(0) < 60.0, burden.GetValue(0))

        import SimpleITK as sitk

        reference = sitk.GetArrayFromImage(sitk.ReadImage(str(SAMPLE_LABELS_PATH)))
        expected = {
            "Myocardium": reference >= 2,
            "Blood pool": reference == 1,
            "Scar": reference >= 3,
        }
        for name, least in SAMPLE_MIN_DICE.items():
            mask = slicer.util.arrayFromSegmentBinaryLabelmap(
                result.segmentation_node, segmentation.GetSegmentIdBySegmentName(name), volume
            ).astype(bool)
            self.assertEqual(mask.shape, expected[name].shape, name)
            dice = 2.0 * (mask & expected[name]).sum() / (mask.sum() + expected[name].sum())
            logging.info(f"ScarSegmentationTest: {name} Dice {dice:.3f}")
            self.assertGreaterEqual(dice, least, f"{name} Dice {dice:.3f} < {least}")
        self.delayDisplay("ScarSegmentationTest passed")
