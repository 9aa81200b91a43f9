"""What each layer may import: module files only what Slicer provides, Lib packages no Qt."""

from __future__ import annotations

import ast

import pytest
from slicer_static import (
    MODULES,
    REPO,
    Import,
    imports,
    is_stdlib,
    lib_file,
    lib_package_of,
    lib_sources,
    parse,
    top_name,
)

# Provided by the Slicer application itself.
SLICER_APP = {"qt", "ctk", "vtk", "slicer", "numpy"}
# Slicer modules or extension modules, and SimpleITK (Slicer ships it; the in-Slicer test reads
# the sample's reference labels with it), imported inside functions only.
LAZY_ONLY = {"SampleData", "PyTorchUtils", "SimpleITK"}
# What each module file may import besides the above (its own Lib, and one-way dependencies).
OWN = {
    "ScarSegmentation": {"ScarSegmentationLib", "ScarQuantificationLib", "ScarQuantification"},
    "ScarQuantification": {"ScarQuantificationLib"},
}
# Third-party packages a Lib module may import at module level when a module file imports it at
# Slicer start-up, before the first-run installer ran: those Slicer ships.
SHIPPED_WITH_SLICER = {"numpy", "vtk", "vtkmodules", "slicer", "SimpleITK", "pydicom", "packaging"}
# Lib files that talk to Slicer itself (mrml*: scenes, render*: views, slicer_*: the application,
# e.g. slicer_install.py, the installer's dialogs and pip calls): the only ones that may import
# slicer or vtk; only slicer_* may use slicer.app.
SLICER_SIDE = ("mrml", "render", "slicer_")
QT_NAMES = {"qt", "ctk", "PythonQt"}
SLICER_APP_ONLY = {"ScriptedLoadableModule", "parameterNodeWrapper"}

ids = [m.name for m in MODULES]


def _bad(found: list[Import], allowed: set[str]) -> list[str]:
    return [
        f"line {i.line}: {i.module}"
        for i in found
        if not (is_stdlib(i.module) or top_name(i.module) in allowed)
    ]


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_module_file_imports_only_what_slicer_provides(module):
    found = imports(module.source)
    top = [i for i in found if i.top_level]
    assert not _bad(top, SLICER_APP | OWN[module.name]), _bad(top, SLICER_APP | OWN[module.name])
    lazy = [i for i in found if not i.top_level]
    allowed = SLICER_APP | OWN[module.name] | LAZY_ONLY
    assert not _bad(lazy, allowed), _bad(lazy, allowed)


def test_quantification_knows_nothing_of_segmentation():
    for path in [REPO / "ScarQuantification" / "ScarQuantification.py", *lib_sources()]:
        if "ScarQuantification" not in path.parts:
            continue
        package = None if path.name == "ScarQuantification.py" else lib_package_of(path)
        for i in imports(path, package):
            assert not top_name(i.module).startswith("ScarSegmentation"), f"{path}:{i.line}"


@pytest.mark.parametrize(
    "path",
    lib_sources(),
    ids=lambda p: str(p.relative_to(REPO)) if hasattr(p, "relative_to") else p,
)
def test_lib_modules_do_not_import_qt_or_the_slicer_app(path):
    package = lib_package_of(path)
    found = imports(path, package)
    for i in found:
        assert top_name(i.module) not in QT_NAMES, f"{path.name}:{i.line} imports {i.module}"
        assert not (set(i.module.split(".")) & SLICER_APP_ONLY), f"{path.name}:{i.line}"
        assert not (i.module == "slicer" and set(i.names) & (SLICER_APP_ONLY | {"app"}))
    app = [
        n.lineno
        for n in ast.walk(parse(path))
        if isinstance(n, ast.Attribute)
        and n.attr == "app"
        and isinstance(n.value, ast.Name)
        and n.value.id == "slicer"
    ]
    if not path.name.startswith("slicer_"):
        assert not app, f"{path.name} uses slicer.app on lines {app}"
    if not path.name.startswith(SLICER_SIDE):
        used = sorted({top_name(i.module) for i in found} & {"slicer", "vtk", "vtkmodules"})
        assert not used, f"{path.name} imports {used}: only mrml*.py / render*.py / slicer_*.py may"


def _light_closure(start: list[Import]) -> list[str]:
    """Walk the Lib files imported at module level; report heavy third-party imports."""
    problems, seen = [], set()
    queue = [(i, "module file") for i in start if i.top_level]
    while queue:
        imp, where = queue.pop()
        modules = [imp.module] + [f"{imp.module}.{n}" for n in imp.names]
        for module in modules:
            path = lib_file(module)
            if path is None:
                continue
            # Importing a.b.c runs the __init__ of a and a.b first.
            parts = module.split(".")
            for depth in range(1, len(parts) + 1):
                file = lib_file(".".join(parts[:depth]))
                if file is None or file in seen:
                    continue
                seen.add(file)
                for inner in imports(file, lib_package_of(file)):
                    if not inner.top_level:
                        continue
                    name = top_name(inner.module)
                    if name in ("ScarSegmentationLib", "ScarQuantificationLib"):
                        queue.append((inner, file.name))
                    elif not (is_stdlib(inner.module) or name in SHIPPED_WITH_SLICER):
                        problems.append(f"{file.relative_to(REPO)}:{inner.line} {inner.module}")
        if lib_file(imp.module) is None and top_name(imp.module) in (
            "ScarSegmentationLib",
            "ScarQuantificationLib",
        ):
            problems.append(f"missing: {imp.module} (imported from {where})")
    return problems


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_module_file_start_up_imports_are_light(module):
    """Slicer imports the module files at start-up, before any package is installed: the Lib
    modules they import at top level (and everything those import at top level) may use only
    what Slicer ships. Heavy imports (torch, scipy, skimage, ...) belong inside functions."""
    start = [i for i in imports(module.source) if i.top_level]
    problems = _light_closure(start)
    missing = [p for p in problems if p.startswith("missing:")]
    if missing:
        pytest.skip(f"headless logic not written yet: {missing}")
    unknown = [p for p in problems if p.split(":")[0] + " " + p.split()[-1] not in KNOWN_HEAVY]
    if problems and not unknown:
        pytest.xfail(f"known, reported to the lead: {problems}")
    assert not problems, problems


# Reported, to be fixed in the Lib (then this entry goes): pipeline.py imports crop.CropBox at
# module level only for a type annotation, and crop.py imports scipy at module level.
KNOWN_HEAVY = {"ScarSegmentation/ScarSegmentationLib/crop.py scipy"}
