"""Import the two Slicer module files outside Slicer and run their Qt-free parts.

The Slicer application cannot run here. The module files are imported on slicer-core (real MRML)
with small stand-ins for what only the application has: `qt`, `slicer.ScriptedLoadableModule`,
`slicer.parameterNodeWrapper` and `slicer.app`. This catches import-time errors, wrong names
from the Lib packages, and exercises the helpers and the in-Slicer test of ScarQuantification
on a real scene. Widgets are not exercised (they need Qt).
"""

from __future__ import annotations

import importlib
import sys
import types
import unittest
from unittest import mock

import numpy as np
import pytest
from slicer_static import REPO

slicer = pytest.importorskip("slicer")


def _stub_scripted_loadable_module() -> types.ModuleType:
    module = types.ModuleType("slicer.ScriptedLoadableModule")

    class ScriptedLoadableModule:
        def __init__(self, parent):
            self.parent = parent

    class ScriptedLoadableModuleWidget:
        def __init__(self, parent=None):
            self.parent = parent

    class ScriptedLoadableModuleLogic:
        # Like Slicer's: calls super().__init__() with no arguments, so a second base class of
        # the module logic is constructed once without arguments.
        def __init__(self, parent=None):
            super().__init__()
            self.moduleName = type(self).__name__.removesuffix("Logic")

        def getParameterNode(self):
            return slicer.mrmlScene.GetSingletonNode(
                self.moduleName, "vtkMRMLScriptedModuleNode"
            ) or (slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScriptedModuleNode"))

    class ScriptedLoadableModuleTest(unittest.TestCase):
        def delayDisplay(self, message, msec=1000):
            pass

    for cls in (
        ScriptedLoadableModule,
        ScriptedLoadableModuleWidget,
        ScriptedLoadableModuleLogic,
        ScriptedLoadableModuleTest,
    ):
        setattr(module, cls.__name__, cls)
    return module


def _stub_parameter_node_wrapper() -> types.ModuleType:
    """Plain attributes with the declared defaults (no serialisation, no GUI binding)."""
    module = types.ModuleType("slicer.parameterNodeWrapper")

    class Choice:
        def __init__(self, choices):
            self.choices = list(choices)

    class WithinRange:
        def __init__(self, minimum, maximum):
            self.minimum, self.maximum = minimum, maximum

    def parameterNodeWrapper(cls):
        fields = list(cls.__annotations__)
        defaults = {name: getattr(cls, name, None) for name in fields}

        def __init__(self, parameterNode):
            self.parameterNode = parameterNode
            for name in fields:
                setattr(self, name, defaults[name])

        return type(cls.__name__, (), {"__init__": __init__, "fields": fields})

    module.Choice, module.WithinRange, module.parameterNodeWrapper = (
        Choice,
        WithinRange,
        parameterNodeWrapper,
    )
    return module


def _placeholder(name: str, class_name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    class Placeholder:
        def __init__(self, scene=None, options=None):
            self.scene = scene

    Placeholder.__name__ = class_name
    setattr(module, class_name, Placeholder)
    module.PLACEHOLDER = True
    return module


@pytest.fixture(scope="module")
def modules():
    """The imported module files (ScarSegmentation, ScarQuantification) on a fresh scene."""
    from ScarSegmentationLib.mrml_scene import new_scene

    patch = pytest.MonkeyPatch()
    patch.setattr(slicer, "mrmlScene", new_scene(), raising=False)
    patch.setattr(slicer, "app", mock.MagicMock(name="slicer.app"), raising=False)
    patch.setitem(sys.modules, "qt", mock.MagicMock(name="qt"))
    patch.setitem(sys.modules, "slicer.ScriptedLoadableModule", _stub_scripted_loadable_module())
    patch.setitem(sys.modules, "slicer.parameterNodeWrapper", _stub_parameter_node_wrapper())
    placeholders = []
    for lib, class_name in (
        ("ScarQuantificationLib.mrml_logic", "ScarQuantificationHeadlessLogic"),
        ("ScarSegmentationLib.logic", "ScarSegmentationHeadlessLogic"),
    ):
        try:
            importlib.import_module(lib)
        except ModuleNotFoundError as error:
            if error.name != lib:
                raise
            patch.setitem(sys.modules, lib, _placeholder(lib, class_name))
            placeholders.append(lib)
    for folder in ("ScarQuantification", "ScarSegmentation"):
        patch.syspath_prepend(str(REPO / folder))
    for name in ("ScarQuantification", "ScarSegmentation"):
        sys.modules.pop(name, None)
    quant = importlib.import_module("ScarQuantification")
    seg = importlib.import_module("ScarSegmentation")
    yield types.SimpleNamespace(seg=seg, quant=quant, placeholders=placeholders)
    for name in ("ScarQuantification", "ScarSegmentation"):
        sys.modules.pop(name, None)
    patch.undo()


def _real(modules, lib):
    if lib in modules.placeholders:
        pytest.skip(f"{lib} not written yet")


def test_module_files_define_the_slicer_classes(modules):
    for mod, name in ((modules.seg, "ScarSegmentation"), (modules.quant, "ScarQuantification")):
        for suffix in ("", "Widget", "Logic", "Test", "ParameterNode"):
            assert hasattr(mod, name + suffix), name + suffix
    assert issubclass(modules.seg.ScarSegmentationLogic, modules.seg.ScarSegmentationHeadlessLogic)
    assert issubclass(
        modules.quant.ScarQuantificationLogic, modules.quant.ScarQuantificationHeadlessLogic
    )


def test_module_constructor_sets_metadata(modules):
    for mod, name in ((modules.seg, "ScarSegmentation"), (modules.quant, "ScarQuantification")):
        parent = types.SimpleNamespace()
        getattr(mod, name)(parent)
        assert parent.categories == ["Cardiac"]
        assert parent.title and parent.helpText and parent.acknowledgementText
    assert "CC BY-NC-SA" in parent_ack(modules.seg)


def parent_ack(seg) -> str:
    parent = types.SimpleNamespace()
    seg.ScarSegmentation(parent)
    return parent.acknowledgementText


def test_parameter_node_defaults_become_pipeline_options(modules):
    _real(modules, "ScarSegmentationLib.logic")
    from ScarSegmentationLib.pipeline import PipelineOptions

    logic = modules.seg.ScarSegmentationLogic()
    assert logic.scene is slicer.mrmlScene
    pn = logic.getParameterNode()
    logic.setParametersFromNode(pn)
    defaults = PipelineOptions()
    for name in modules.seg.PIPELINE_FIELDS:
        assert getattr(logic.options, name) == getattr(defaults, name), name
    pn.mc_samples, pn.core_method, pn.scar_method, pn.keep_probabilities = (
        0,
        "3sd",
        "threshold",
        False,
    )
    pn.device = "cuda"
    pn.scar_presence = False
    pn.refine_wall = False
    logic.setParametersFromNode(pn)
    assert logic.options.scar_presence is False and logic.options.refine_wall is False
    assert (logic.options.mc_samples, logic.options.core_method) == (0, "3sd")
    assert (logic.options.scar_method, logic.options.keep_probabilities) == ("threshold", False)
    assert logic.device == "cuda"


def test_both_modules_use_the_shared_installer(modules):
    """The installer lives in ScarQuantificationLib (install.py, slicer_install.py), not in a
    module file."""
    from ScarQuantificationLib import slicer_install

    assert modules.seg.ensure_requirements is slicer_install.ensure_requirements
    assert modules.quant.ensure_requirements is slicer_install.ensure_requirements
    for name in ("ensurePythonRequirements", "readRequirements", "missingRequirements"):
        assert not hasattr(modules.quant, name), name
    # everything is installed in the project venv: nothing to do, nothing asked
    sections = ("quantification", "segmentation", "dicomseg")
    assert slicer_install.ensure_requirements(sections, interactive=False)


def _stub_sample_data(registered: dict) -> types.ModuleType:
    """Slicer's SampleData module as far as the in-Slicer test uses it: a registered source's
    file:// URIs are read (as urlretrieve does), their SHA256 checked, and the files loaded into
    slicer.mrmlScene with the given node names and file types."""
    import hashlib
    import urllib.parse
    import urllib.request

    from ScarSegmentationLib import mrml_io

    module = types.ModuleType("SampleData")

    class SampleDataLogic:
        @staticmethod
        def registerCustomSampleDataSource(**kwargs):
            registered[kwargs["sampleName"]] = kwargs

    def downloadSample(name):
        source = registered[name]
        nodes = []
        for uri, checksum, node_name, file_type in zip(
            source["uris"],
            source["checksums"],
            source["nodeNames"],
            source["loadFileType"],
            strict=True,
        ):
            parsed = urllib.parse.urlparse(uri)
            assert parsed.scheme == "file", uri
            path = urllib.request.url2pathname(parsed.path)
            algorithm, digest = checksum.split(":")
            assert algorithm == "SHA256"
            with open(path, "rb") as f:
                assert hashlib.sha256(f.read()).hexdigest() == digest, f"checksum of {uri}"
            read = {
                "VolumeFile": mrml_io.read_volume,
                "SegmentationFile": mrml_io.read_segmentation,
            }[file_type]
            nodes.append(read(slicer.mrmlScene, path, node_name))
        return nodes[0]

    module.SampleDataLogic = SampleDataLogic
    module.downloadSample = downloadSample
    return module


def test_in_slicer_sample_test_passes(modules, monkeypatch):
    """ScarSegmentationTest.test_ProcessSample as Slicer runs it (the shipped Case_P100 through
    Sample Data's file:// download and the whole pipeline with the module's defaults), on
    slicer-core with a stand-in SampleData module."""
    _real(modules, "ScarSegmentationLib.logic")
    from ScarSegmentationLib.mrml_scene import scene_logic

    registered = {}
    monkeypatch.setitem(sys.modules, "SampleData", _stub_sample_data(registered))
    # slicer.util.arrayFromSegmentBinaryLabelmap calls slicer.modules.segmentations.logic()
    segmentations = types.SimpleNamespace(
        logic=lambda: scene_logic(slicer.mrmlScene, "Segmentations")
    )
    monkeypatch.setattr(
        slicer, "modules", types.SimpleNamespace(segmentations=segmentations), raising=False
    )
    test = modules.seg.ScarSegmentationTest()
    test.setUp()
    test.test_ProcessSample()
    source = registered[modules.seg.SAMPLE_NAME]
    assert source["loadFileType"] == ["VolumeFile", "SegmentationFile"]
    reference = slicer.mrmlScene.GetFirstNodeByName("Case_P100 reference")
    assert reference is not None and reference.IsA("vtkMRMLSegmentationNode")
    assert reference.GetSegmentation().GetNumberOfSegments() == 4  # labels 1-4 as segments


def test_summary_text_reads_the_measurements_table(modules):
    from ScarQuantificationLib.table import Column, Table

    table = Table("measurements", [Column("scar_burden_pct", "double", "%")])
    table.add_row(scar_burden_pct=12.345)
    summary = modules.seg.summaryText
    assert summary(table, "scar_burden_pct", "%", 1) == "12.3 %"
    assert summary(table, "scar_mass_g", "g", 1) == "n/a"
    assert summary(None, "scar_burden_pct", "%", 1) == "n/a"
    empty = Table("measurements", [Column("scar_burden_pct", "double")])
    assert summary(empty, "scar_burden_pct", "%", 1) == "n/a"


def _ring_masks():
    """Myocardial ring with a 90-degree scar sector, 4 slices, (k, j, i)."""
    jj, ii = np.mgrid[0:64, 0:64] - 31.5
    radius, angle = np.hypot(jj, ii), np.degrees(np.arctan2(jj, ii)) % 360
    myo = (radius >= 12) & (radius < 20)
    masks = {"Myocardium": myo, "Blood pool": radius < 12, "Scar": myo & (angle < 90)}
    return {k: np.repeat(v[None], 4, axis=0) for k, v in masks.items()}


def test_summary_columns_exist_in_the_real_measurements_table(modules):
    from ScarQuantificationLib.measures import clinical_measures

    table = clinical_measures(_ring_masks(), spacing=(1.5, 1.5, 8.0))
    for label, (column, unit, _) in modules.seg.SUMMARY.items():
        assert table.column(column).unit == unit, label
        assert modules.seg.summaryText(table, column, unit, 1) != "n/a", label
    burden = table.values("scar_burden_pct")[0]
    assert abs(burden - 25.0) < 2.0


def test_ring_phantom_of_the_in_slicer_test(modules):
    from ScarSegmentationLib.mrml_segments import masks_from_segmentation_node

    volume, segmentation = modules.quant.ScarQuantificationTest._ringPhantom()
    segments = segmentation.GetSegmentation()
    names = [segments.GetNthSegment(i).GetName() for i in range(segments.GetNumberOfSegments())]
    assert names == ["Myocardium", "Blood pool", "Scar"]
    masks = masks_from_segmentation_node(segmentation, volume)
    assert masks["Myocardium"].shape == slicer.util.arrayFromVolume(volume).shape
    burden = 100 * masks["Scar"].sum() / masks["Myocardium"].sum()
    assert abs(burden - 25.0) < 2.0
    assert not (masks["Scar"] & ~masks["Myocardium"]).any()


def test_in_slicer_quantification_test_passes(modules):
    _real(modules, "ScarQuantificationLib.mrml_logic")
    test = modules.quant.ScarQuantificationTest()
    test.setUp()
    test.test_QuarterScarRing()


def test_labels_of_choices(modules):
    combo = types.SimpleNamespace(count=2, texts={})
    combo.setItemText = lambda i, text: combo.texts.__setitem__(i, text)
    modules.quant.labelChoices(combo, {"a": "Alpha", "b": "Beta", "c": "Gamma"})
    assert combo.texts == {0: "Alpha", 1: "Beta"}
