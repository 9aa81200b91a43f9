"""The first-run installer: decisions on a fake installed set (ScarQuantificationLib/install.py),
the requirements file's ranges, and the Slicer-side calls (slicer_install.py) with a stand-in
`slicer` module."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from unittest import mock

import pytest
from packaging.requirements import Requirement
from ScarQuantificationLib import install, slicer_install
from ScarQuantificationLib.install import INSTALL, KEEP, SKIP, constraints, decide, plan

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "requirements-runtime.txt"
SLICER_5_10, SLICER_5_12 = (5, 10), (5, 12)


def _decision(spec, installed, slicer_version=SLICER_5_10, environment=None):
    return decide(Requirement(spec), installed, slicer_version, environment)


def test_installed_in_range_is_kept():
    d = _decision("scipy>=1.17.1,<2", {"scipy": "1.17.1"})
    assert (d.action, d.installed) == (KEEP, "1.17.1")
    assert _decision("scipy>=1.17.1,<2", {"scipy": "1.18.0"}).action == KEEP


def test_newer_than_the_range_is_kept_not_downgraded():
    d = _decision("scipy>=1.17.1,<2", {"scipy": "2.3.0"})
    assert d.action == KEEP and "never downgraded" in d.reason
    assert _decision("highdicom>=0.27.0,<1", {"highdicom": "1.2"}).action == KEEP


def test_missing_is_installed():
    d = _decision("scikit-image>=0.26.0,<1", {"scipy": "1.17.1"})
    assert (d.action, d.reason) == (INSTALL, "missing")
    assert d.spec == "scikit-image<1,>=0.26.0"  # what pip gets: the whole range


def test_too_old_is_installed():
    d = _decision("scipy>=1.17.1,<2", {"scipy": "1.11.4"})
    assert d.action == INSTALL and "older than 1.17.1" in d.reason and d.installed == "1.11.4"
    # pre-releases and post-releases compare as versions, not strings
    assert _decision("scipy>=1.17.1,<2", {"scipy": "1.17.0.post1"}).action == INSTALL
    assert _decision("scipy>=1.17.1,<2", {"scipy": "1.17.10"}).action == KEEP


@pytest.mark.parametrize(
    "alternative", ["onnxruntime-gpu", "onnxruntime_directml", "ONNXRuntime-GPU"]
)
def test_an_alternative_distribution_counts_as_installed(alternative):
    installed = {install.canonicalize_name(alternative): "1.20.1"}
    d = _decision("onnxruntime>=1.32.0,<2", installed)
    assert d.action == KEEP and "provides it" in d.reason
    # even an older one: installing onnxruntime beside it would break its GPU provider
    assert d.installed == "1.20.1"


def test_what_slicer_ships_is_never_installed():
    for name in ("numpy", "SimpleITK", "vtk", "requests", "pydicom", "pillow"):
        for installed in ({}, {name.lower(): "0.0.1"}):
            d = _decision(f"{name}>=1.0,<99", installed, SLICER_5_10)
            assert d.action == SKIP and "shipped with Slicer" in d.reason, (name, installed)


def test_highdicom_is_shipped_from_slicer_5_12_on():
    assert _decision("highdicom>=0.27.0,<1", {}, SLICER_5_12).action == SKIP
    assert _decision("highdicom>=0.27.0,<1", {}, (5, 13)).action == SKIP
    assert _decision("highdicom>=0.27.0,<1", {}, (6, 0)).action == SKIP
    assert _decision("highdicom>=0.27.0,<1", {}, SLICER_5_10).action == INSTALL
    assert _decision("highdicom>=0.27.0,<1", {}, (5, 8)).action == INSTALL
    # an unknown Slicer version is treated as shipping everything listed (never installs it)
    assert _decision("highdicom>=0.27.0,<1", {}, None).action == SKIP


def test_a_marker_for_another_platform_is_skipped():
    env = {"sys_platform": "linux", "platform_machine": "x86_64", "python_version": "3.12"}
    d = _decision("pywin32>=300; sys_platform == 'win32'", {}, SLICER_5_10, env)
    assert d.action == SKIP
    assert (
        _decision("pywin32>=300; sys_platform == 'linux'", {}, SLICER_5_10, env).action == INSTALL
    )


def test_plan_on_a_fake_installed_set():
    requirements = [
        Requirement(r)
        for r in (
            "scipy>=1.17.1,<2",  # newer: kept
            "scikit-image>=0.26.0,<1",  # missing: installed
            "matplotlib>=3.11.2,<4",  # too old: installed
            "onnxruntime>=1.32.0,<2",  # GPU build present: kept
            "psutil>=7.2.2,<8",  # in range: kept
            "numpy>=2.0,<3",  # Slicer's: never
        )
    ]
    installed = {
        "SciPy": "2.0.1",
        "matplotlib": "3.9.0",
        "onnxruntime-gpu": "1.33.0",
        "psutil": "7.2.2",
        "numpy": "1.26.4",
    }
    decisions = plan(requirements, installed, SLICER_5_10)
    assert [d.action for d in decisions] == [KEEP, INSTALL, INSTALL, KEEP, KEEP, SKIP]
    assert [d.name for d in install.to_install(decisions)] == ["scikit-image", "matplotlib"]


def test_constraints_hold_what_slicer_ships_at_its_version():
    installed = {"numpy": "1.26.4", "pydicom": "2.4.4", "SimpleITK": "2.4.0", "scipy": "1.14"}
    lines = constraints(installed, SLICER_5_10)
    assert "numpy==1.26.4" in lines and "pydicom==2.4.4" in lines and "simpleitk==2.4.0" in lines
    assert not any(line.startswith("scipy") for line in lines)  # ours may be upgraded
    with_hd = constraints({**installed, "highdicom": "0.27.0"}, SLICER_5_12)
    assert "highdicom==0.27.0" in with_hd
    assert "highdicom==0.27.0" not in constraints({**installed, "highdicom": "0.27.0"}, SLICER_5_10)


# The requirements file -------------------------------------------------------------------------


def _runtime_pins() -> dict[str, str]:
    pins = {}
    for line in RUNTIME.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[install.canonicalize_name(name)] = version.strip()
    return pins


def test_every_requirement_is_a_range_from_the_tested_version_to_the_next_major():
    pins = _runtime_pins()
    requirements = install.read_requirements()
    assert requirements
    for r in requirements:
        specs = {s.operator: s.version for s in r.specifier}
        assert set(specs) == {">=", "<"}, f"{r}: not a '>=lowest,<next major' range"
        name = install.canonicalize_name(r.name)
        assert name in pins, f"{r.name} is not in requirements-runtime.txt (not tested)"
        assert specs[">="] == pins[name], f"{r}: lowest should be the tested {pins[name]}"
        major = int(re.match(r"\d+", specs[">="]).group())
        assert specs["<"] == str(major + 1), f"{r}: upper bound should be <{major + 1}"


def test_sections_and_what_each_module_asks_for():
    assert install.sections_of() == ["quantification", "segmentation", "dicomseg"]
    names = {
        s: [r.name for r in install.read_requirements(sections=(s,))] for s in install.sections_of()
    }
    assert "onnxruntime" in names["segmentation"] and "scipy" in names["quantification"]
    assert names["dicomseg"] == ["highdicom"]
    everything = [r.name.lower() for r in install.read_requirements()]
    assert not {"torch", "torchvision", "ultralytics", "onnx"} & set(everything)
    # nothing Slicer ships is listed except highdicom (installed only before 5.12)
    listed_shipped = {install.canonicalize_name(n) for n in everything} & set(install.SLICER_SHIPS)
    assert listed_shipped == {"highdicom"}
    for module in ("ScarSegmentation", "ScarQuantification"):
        source = (REPO / module / f"{module}.py").read_text()
        asked = re.findall(r"ensure_requirements\(\s*\(([^)]*)\)", source)
        assert asked, module
        for call in asked:
            for section in re.findall(r'"([\w-]+)"', call):
                assert section in names, f"{module} asks for unknown section {section}"


def test_the_venv_needs_nothing():
    """The project venv is installed from the tested pins: no section would install anything."""
    todo = install.to_install(plan(install.read_requirements(), slicer_version=SLICER_5_10))
    assert todo == [], [str(d) for d in todo]


# The Slicer side, with a stand-in slicer module ------------------------------------------------


def _fake_slicer(monkeypatch, *, pip_ensure=None, version=(5, 10), confirm=True):
    fake = types.ModuleType("slicer")
    fake.app = types.SimpleNamespace(
        majorVersion=version[0],
        minorVersion=version[1],
        slicerUserSettingsFilePath="/nowhere/x.ini",
    )
    calls = []
    fake.util = types.SimpleNamespace(
        confirmOkCancelDisplay=mock.Mock(return_value=confirm),
        errorDisplay=mock.Mock(),
        warningDisplay=mock.Mock(),
        WaitCursor=mock.MagicMock(),
        pip_install=lambda args: calls.append(("pip_install", list(args))),
    )
    monkeypatch.setitem(sys.modules, "slicer", fake)
    monkeypatch.setattr(slicer_install, "slicer", fake)
    if pip_ensure is not None:
        packaging = types.ModuleType("slicer.packaging")
        packaging.pip_ensure = pip_ensure
        fake.packaging = packaging
        monkeypatch.setitem(sys.modules, "slicer.packaging", packaging)
    else:
        monkeypatch.setitem(sys.modules, "slicer.packaging", None)  # import fails, as before 5.12
    monkeypatch.delenv("SCARSEG_WHEELS", raising=False)
    return fake, calls


def _fake_installed(monkeypatch, versions):
    state = dict(versions)
    monkeypatch.setattr(install, "installed_versions", lambda: dict(state))
    return state


def test_nothing_missing_touches_nothing(monkeypatch):
    fake, calls = _fake_slicer(monkeypatch)
    _fake_installed(monkeypatch, {"scipy": "1.17.1", "scikit-image": "0.26.0", "matplotlib": "4.0"})
    assert slicer_install.ensure_requirements(("quantification",))
    assert calls == [] and not fake.util.confirmOkCancelDisplay.called


def test_before_5_12_pip_install_gets_ranges_and_constraints(monkeypatch):
    fake, calls = _fake_slicer(monkeypatch, version=(5, 10))
    state = _fake_installed(  # scipy missing, scikit-image too old, matplotlib newer
        monkeypatch,
        {"scikit-image": "0.19", "matplotlib": "9.0", "numpy": "1.26.4", "pydicom": "2.4.4"},
    )
    monkeypatch.setattr(install, "upgraded_imports", lambda decisions, modules: [])
    seen = {}

    def pip_install(args):
        constraints_file = args[args.index("-c") + 1]
        seen["constraints"] = Path(constraints_file).read_text().split()
        seen["args"] = args
        state.update({"scipy": "1.17.1", "scikit-image": "0.26.0"})

    fake.util.pip_install = pip_install
    assert slicer_install.ensure_requirements(("quantification",), interactive=True)
    assert fake.util.confirmOkCancelDisplay.called
    specs = seen["args"][: seen["args"].index("-c")]
    assert sorted(specs) == ["scikit-image<1,>=0.26.0", "scipy<2,>=1.17.1"]  # not matplotlib
    assert seen["constraints"] == ["numpy==1.26.4", "pydicom==2.4.4"]
    assert calls == []  # the stand-in replaced above did the installing


def test_declined_installs_nothing(monkeypatch):
    fake, calls = _fake_slicer(monkeypatch, confirm=False)
    _fake_installed(monkeypatch, {})
    assert not slicer_install.ensure_requirements(("quantification",))
    assert calls == []


def test_from_5_12_pip_ensure_gets_only_what_to_install(monkeypatch):
    got = {}

    def pip_ensure(requirements, constraints=None, prompt_install=True, requester=None,
                   skip_in_testing=True, prompt_restart=True, show_progress=True):  # fmt: skip
        got.update(requirements=requirements, constraints=Path(constraints).read_text().split(),
                   prompt_install=prompt_install, skip_in_testing=skip_in_testing,
                   requester=requester)  # fmt: skip
        state["onnxruntime"] = "1.32.0"

    fake, calls = _fake_slicer(monkeypatch, pip_ensure=pip_ensure, version=(5, 12))
    state = _fake_installed(
        monkeypatch,
        {"psutil": "8.1", "tqdm": "4.70.1", "highdicom": "0.27.0", "pydicom": "3.0.2"},
    )
    assert slicer_install.ensure_requirements(("segmentation", "dicomseg"), interactive=False)
    assert got["requirements"] == ["onnxruntime<2,>=1.32.0"]  # psutil newer: kept
    assert got["prompt_install"] is False and got["skip_in_testing"] is False
    assert "highdicom==0.27.0" in got["constraints"] and "pydicom==3.0.2" in got["constraints"]
    assert got["requester"] == "MyocardialScar"
    assert calls == []


def test_pip_failure_explains_the_offline_route(monkeypatch):
    def pip_install(args):
        raise RuntimeError("pip exited with 1")

    fake, _ = _fake_slicer(monkeypatch)
    fake.util.pip_install = pip_install
    _fake_installed(monkeypatch, {})
    assert not slicer_install.ensure_requirements(("quantification",), interactive=False)
    message = fake.util.errorDisplay.call_args.args[0]
    assert "pip download" in message and "SCARSEG_WHEELS" in message


def test_still_missing_after_install_is_reported(monkeypatch):
    fake, _ = _fake_slicer(monkeypatch)
    _fake_installed(monkeypatch, {})
    assert not slicer_install.ensure_requirements(("quantification",), interactive=False)
    assert "still missing" in fake.util.errorDisplay.call_args.args[0]


def test_an_upgraded_package_already_loaded_asks_for_a_restart(monkeypatch):
    import scipy  # noqa: F401 - loaded, as another module may have done in Slicer

    fake, _ = _fake_slicer(monkeypatch)
    state = _fake_installed(
        monkeypatch, {"scipy": "1.10.0", "scikit-image": "0.26.0", "matplotlib": "3.11.2"}
    )
    fake.util.pip_install = lambda args: state.update(scipy="1.17.1")
    assert not slicer_install.ensure_requirements(("quantification",), interactive=False)
    assert "restart Slicer" in fake.util.warningDisplay.call_args.args[0]
