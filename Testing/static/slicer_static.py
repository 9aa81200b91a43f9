"""Helpers for the static checks of the Slicer extension layer (no Qt, no Slicer app needed)."""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIB_PACKAGES = {
    "ScarSegmentationLib": REPO / "ScarSegmentation" / "ScarSegmentationLib",
    "ScarQuantificationLib": REPO / "ScarQuantification" / "ScarQuantificationLib",
}


@dataclass(frozen=True)
class Module:
    name: str

    @property
    def folder(self) -> Path:
        return REPO / self.name

    @property
    def source(self) -> Path:
        return self.folder / f"{self.name}.py"

    @property
    def ui(self) -> Path:
        return self.folder / "Resources" / "UI" / f"{self.name}.ui"

    @property
    def icon(self) -> Path:
        return self.folder / "Resources" / "Icons" / f"{self.name}.png"

    @property
    def cmake(self) -> Path:
        return self.folder / "CMakeLists.txt"


MODULES = (Module("ScarSegmentation"), Module("ScarQuantification"))


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@dataclass(frozen=True)
class Import:
    module: str  # absolute dotted name ("" for unresolvable relative imports)
    names: tuple[str, ...]  # for "from x import a, b": ("a", "b"); else ()
    top_level: bool  # executed when the file is imported (not inside a function)
    line: int


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, package: str | None = None) -> list[Import]:
    """Every import of a file, with relative imports resolved against `package`."""
    found: list[Import] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # never executed at run time
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(alias.name, (), top, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                module = child.module or ""
                if child.level:
                    parts = (package or "").split(".")
                    base = parts[: len(parts) - child.level + 1] if package else []
                    module = ".".join([*base, module] if module else base)
                names = tuple(a.name for a in child.names)
                found.append(Import(module, names, top, child.lineno))
            inner = top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            visit(child, inner)

    visit(parse(path), True)
    return found


def top_name(module: str) -> str:
    return module.split(".")[0]


def is_stdlib(module: str) -> bool:
    return top_name(module) in sys.stdlib_module_names


def lib_file(module: str) -> Path | None:
    """Source file of a dotted module inside one of the Lib packages, if it exists."""
    parts = module.split(".")
    root = LIB_PACKAGES.get(parts[0])
    if root is None:
        return None
    path = root.joinpath(*parts[1:])
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def lib_package_of(path: Path) -> str:
    """Dotted package that contains a Lib source file (for resolving relative imports)."""
    for name, root in LIB_PACKAGES.items():
        if root in path.parents or path.parent == root:
            # The package of "a/b.py" and of "a/__init__.py" is "a" either way.
            rel = path.relative_to(root).with_suffix("")
            return ".".join([name, *rel.parts][:-1])
    raise ValueError(f"{path} is not in a Lib package")


def lib_sources() -> list[Path]:
    return sorted(p for root in LIB_PACKAGES.values() for p in root.rglob("*.py"))


# Lib files that the extension does not ship (training code, with the PyTorch-only modules), as
# paths relative to the Lib package folder: a folder ends with "/". The other entries are where
# PyTorch-only modules lived before they moved into training/ (kept so none comes back there).
NOT_SHIPPED = (
    "training/",
    "models/",
    "anatomy/autoencoder.py",
    "scar/sam_model.py",
    "scar/sam_losses.py",
    "scar/embeddings.py",
)


def is_shipped(path: Path) -> bool:
    """Whether a Lib source file goes into the extension (see NOT_SHIPPED)."""
    for root in LIB_PACKAGES.values():
        if root in path.parents:
            rel = path.relative_to(root).as_posix()
            return not any(rel.startswith(x) if x.endswith("/") else rel == x for x in NOT_SHIPPED)
    raise ValueError(f"{path} is not in a Lib package")


def shipped_lib_sources() -> list[Path]:
    return [p for p in lib_sources() if is_shipped(p)]


def ui_tree(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def ui_widgets(root: ET.Element) -> dict[str, str]:
    """Widget name -> class for every <widget> of a Qt Designer file."""
    return {w.get("name"): w.get("class") for w in root.iter("widget")}


def ui_parameter_names(root: ET.Element) -> dict[str, str]:
    """Widget name -> SlicerParameterName dynamic property (parameter node binding)."""
    bound = {}
    for widget in root.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[widget.get("name")] = prop.findtext("string")
    return bound


def class_def(tree: ast.Module, name: str) -> ast.ClassDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise KeyError(name)


def annotated_fields(cls: ast.ClassDef) -> dict[str, ast.expr | None]:
    """Field name -> default expression (None when the field has no default)."""
    return {
        n.target.id: n.value
        for n in cls.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }


def decorated_with(cls: ast.ClassDef, name: str) -> bool:
    return any(
        (isinstance(d, ast.Name) and d.id == name)
        or (isinstance(d, ast.Attribute) and d.attr == name)
        for d in cls.decorator_list
    )


def module_constant(tree: ast.Module, name: str) -> object:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise KeyError(name)


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk; raises if the file is not a PNG."""
    data = path.read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def pins(path: Path) -> dict[str, str]:
    """Normalised package name -> pinned version for every "name==version" line."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[normalise(name)] = version.strip()
    return out


def normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")
