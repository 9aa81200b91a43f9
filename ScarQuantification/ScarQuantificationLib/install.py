"""Install the extension's Python requirements into Slicer's Python without harm.

Both Slicer modules call `slicer_install.ensure_requirements(sections)` when the user first
presses Apply, Compute or Export (never at import). The decisions are made here, headless and
testable (`plan` on any set of installed versions), with no Slicer import; slicer_install.py is
the thin Slicer-side wrapper that asks, installs (`slicer.packaging.pip_ensure` from Slicer 5.12
on, `slicer.util.pip_install` before) and checks again.

Rules (Resources/requirements.txt holds ranges "name>=lowest tested,<next major"):
- a requirement that is installed at or above its lowest tested version is kept, also when it is
  newer than the range (another extension may need it; it is never downgraded);
- missing, or older than the lowest tested version: installed (within the range);
- a distribution that provides the same module counts as installed (ALTERNATIVES: onnxruntime-gpu
  for onnxruntime; installing onnxruntime beside it would break the CUDA provider);
- what Slicer ships (SLICER_SHIPS) is never installed or replaced, and pip is told to leave it
  alone while it resolves the others (a constraints file pins it at the installed version);
- a requirement whose environment marker does not apply here is skipped.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

# <lib>/Resources/requirements.txt in an installed extension (this file is in
# <lib>/qt-scripted-modules/ScarQuantificationLib/), <repo>/Resources/requirements.txt in the
# source tree (ScarQuantification/ScarQuantificationLib/): two folders above this package.
REQUIREMENTS_PATH = Path(__file__).resolve().parents[2] / "Resources" / "requirements.txt"

# Distributions that provide the same import as a requirement: when one is installed, the
# requirement counts as installed.
ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "onnxruntime": ("onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino"),
}

# Distributions Slicer ships -> first Slicer version (major, minor) that ships it. Never installed
# or replaced: Slicer and other extensions rely on the versions it ships. Every supported Slicer
# (5.10 on) ships numpy, SimpleITK, VTK, requests, pillow, packaging and pydicom (2.4 before 5.12:
# Slicer's DICOM module uses it); Slicer 5.12 adds pydicom 3.0.2 and highdicom 0.27.
SLICER_SHIPS: dict[str, tuple[int, int]] = {
    "numpy": (0, 0),
    "simpleitk": (0, 0),
    "vtk": (0, 0),
    "requests": (0, 0),
    "urllib3": (0, 0),
    "certifi": (0, 0),
    "idna": (0, 0),
    "charset-normalizer": (0, 0),
    "pillow": (0, 0),
    "packaging": (0, 0),
    "pydicom": (0, 0),
    "highdicom": (5, 12),
}

INSTALL, KEEP, SKIP = "install", "keep", "skip"

_SECTION = re.compile(r"^#\s*\[([\w-]+)\]\s*$")


@dataclass(frozen=True)
class Decision:
    """What to do with one requirement, and why (shown to the user before installing)."""

    requirement: Requirement
    action: str  # INSTALL, KEEP (installed and usable) or SKIP (not ours to install)
    reason: str
    installed: str | None = None  # the installed version, if any

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def spec(self) -> str:
        """What pip is asked for: "name>=lowest,<next major" (without the marker)."""
        return f"{self.requirement.name}{self.requirement.specifier}"

    def __str__(self) -> str:
        return f"{self.spec}: {self.reason}"


def read_requirements(
    path: Path | str = REQUIREMENTS_PATH, sections: Iterable[str] | None = None
) -> list[Requirement]:
    """Requirements of the given sections ("# [name]" lines start a section); all if None."""
    wanted = None if sections is None else set(sections)
    requirements, section = [], None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
            continue
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        if wanted is None or section in wanted:
            requirements.append(Requirement(line))
    return requirements


def sections_of(path: Path | str = REQUIREMENTS_PATH) -> list[str]:
    return [
        m.group(1)
        for m in map(_SECTION.match, Path(path).read_text(encoding="utf-8").splitlines())
        if m
    ]


def lowest_version(requirement: Requirement) -> Version | None:
    """The ">=" bound of a requirement (its lowest tested version), if it has one."""
    for spec in requirement.specifier:
        if spec.operator == ">=":
            return Version(spec.version)
    return None


def installed_versions() -> dict[str, str]:
    """Canonical distribution name -> installed version, for this Python."""
    importlib.invalidate_caches()
    versions = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(canonicalize_name(name), dist.version)
    return versions


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def decide(
    requirement: Requirement,
    installed: Mapping[str, str],
    slicer_version: tuple[int, int] | None = None,
    environment: Mapping[str, str] | None = None,
) -> Decision:
    """The decision for one requirement given the installed versions (canonical names)."""
    name = canonicalize_name(requirement.name)
    if requirement.marker is not None and not requirement.marker.evaluate(
        dict(environment) if environment is not None else None
    ):
        return Decision(requirement, SKIP, "not needed on this platform")
    have = installed.get(name)
    since = SLICER_SHIPS.get(name)
    if since is not None and (slicer_version is None or tuple(slicer_version) >= since):
        where = "Slicer" if since == (0, 0) else f"Slicer {since[0]}.{since[1]} and later"
        return Decision(requirement, SKIP, f"shipped with {where}: never replaced", have)
    for alternative in ALTERNATIVES.get(name, ()):
        alt = installed.get(canonicalize_name(alternative))
        if alt is not None:
            return Decision(
                requirement, KEEP, f"{alternative} {alt} provides it (kept as installed)", alt
            )
    if have is None:
        return Decision(requirement, INSTALL, "missing")
    lowest = lowest_version(requirement)
    version = _version(have)
    if lowest is not None and version is not None and version < lowest:
        return Decision(requirement, INSTALL, f"{have} is older than {lowest}", have)
    if version is not None and version not in requirement.specifier:
        return Decision(requirement, KEEP, f"newer {have} kept (never downgraded)", have)
    return Decision(requirement, KEEP, f"{have} installed", have)


def plan(
    requirements: Iterable[Requirement],
    installed: Mapping[str, str] | None = None,
    slicer_version: tuple[int, int] | None = None,
    environment: Mapping[str, str] | None = None,
) -> list[Decision]:
    """One decision per requirement. `installed` maps distribution names (any spelling) to
    versions; None reads this Python's. `slicer_version` None means "ships everything listed"."""
    if installed is None:
        installed = installed_versions()
    installed = {canonicalize_name(k): v for k, v in installed.items()}
    return [decide(r, installed, slicer_version, environment) for r in requirements]


def to_install(decisions: Iterable[Decision]) -> list[Decision]:
    return [d for d in decisions if d.action == INSTALL]


def constraints(
    installed: Mapping[str, str], slicer_version: tuple[int, int] | None = None
) -> list[str]:
    """pip constraints that hold what Slicer ships at its installed version while pip resolves
    the requirements (so a dependency of ours cannot upgrade or downgrade it)."""
    installed = {canonicalize_name(k): v for k, v in installed.items()}
    lines = []
    for name, since in sorted(SLICER_SHIPS.items()):
        shipped = slicer_version is None or tuple(slicer_version) >= since
        if shipped and name in installed:
            lines.append(f"{name}=={installed[name]}")
    return lines


def upgraded_imports(decisions: Iterable[Decision], modules: Iterable[str]) -> list[str]:
    """Distributions replaced by an install whose modules are already imported (the old code
    stays in memory until Slicer restarts)."""
    try:
        providers = importlib.metadata.packages_distributions()
    except Exception:  # noqa: BLE001 - only used to word a message
        return []
    loaded = {m.split(".")[0] for m in modules}
    names = {d.name for d in decisions if d.action == INSTALL and d.installed is not None}
    return sorted(
        name
        for top, dists in providers.items()
        if top in loaded
        for name in names
        if name in {canonicalize_name(x) for x in dists}
    )


def offline_help_text(what: str, wheels_folder: str, specs: Iterable[str] = ()) -> str:
    """How to install without internet access (shown when pip fails)."""
    wanted = " ".join(f'"{s}"' for s in specs) or f'-r "{REQUIREMENTS_PATH}"'
    return (
        f"Installing {what} failed (the details say why).\n\n"
        "If this computer has no internet access:\n"
        "1. On a computer with internet access and the same operating system and Slicer version, "
        "run in a terminal:\n"
        f"   PythonSlicer -m pip download {wanted} -d wheels\n"
        f"2. Copy the .whl files of the 'wheels' folder into:\n   {wheels_folder}\n"
        "   (or set the environment variable SCARSEG_WHEELS to their folder).\n"
        "3. Press the button again: the packages are then installed from that folder "
        "(pip --no-index --find-links).\n\n"
        "Behind a proxy: set the HTTPS_PROXY environment variable before starting Slicer."
    )
