"""The Slicer side of the first-run installer: ask, install, check again (no Qt import).

Thin on purpose: what to install is decided by install.py (headless, tested on fake installed
sets); this file only talks to Slicer. From Slicer 5.12 on it calls
`slicer.packaging.pip_ensure` (its own prompt, progress dialog and restart offer); before, it
asks with slicer.util and runs `slicer.util.pip_install` itself. Either way pip gets only the
requirements to install, as ranges, and a constraints file that holds what Slicer ships at its
installed version. A folder of wheels (SCARSEG_WHEELS, or MyocardialScar/wheels beside Slicer's
settings) is used offline (pip --no-index --find-links).

A Slicer-side Lib file (like mrml*.py): it imports `slicer` and uses slicer.app, and is imported
only by the module files, never by the command line or the child process.
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import slicer

from . import install

REQUESTER = "MyocardialScar"


def slicer_version() -> tuple[int, int] | None:
    try:
        return int(slicer.app.majorVersion), int(slicer.app.minorVersion)
    except (AttributeError, TypeError, ValueError):
        return None


def wheels_folder() -> Path:
    """Where to put wheels for an offline installation (env SCARSEG_WHEELS overrides)."""
    folder = os.environ.get("SCARSEG_WHEELS")
    if folder:
        return Path(folder)
    settings = Path(slicer.app.slicerUserSettingsFilePath).parent
    return settings / "MyocardialScar" / "wheels"


def local_wheels_arguments() -> list[str]:
    """pip arguments that install from the local wheels folder, or [] if it holds no wheel."""
    try:
        folder = wheels_folder()
        has_wheels = folder.is_dir() and any(p.suffix == ".whl" for p in folder.iterdir())
    except Exception:  # noqa: BLE001 - no settings path or unreadable folder: no local wheels
        return []
    return ["--no-index", "--find-links", str(folder)] if has_wheels else []


def _offline_help(specs: Sequence[str]) -> str:
    try:
        folder = str(wheels_folder())
    except Exception:  # noqa: BLE001
        folder = "the folder named by the SCARSEG_WHEELS environment variable"
    return install.offline_help_text("the Python packages", folder, specs)


def _pip_ensure() -> Callable | None:
    """slicer.packaging.pip_ensure (Slicer 5.12 and later), else None."""
    try:
        from slicer import packaging as slicer_packaging
    except ImportError:
        return None
    return getattr(slicer_packaging, "pip_ensure", None)


def _call_pip_ensure(
    pip_ensure: Callable, specs: list[str], constraints_file: str, interactive: bool
) -> None:
    wanted = {
        "constraints": constraints_file,
        "prompt_install": interactive,
        "prompt_restart": interactive,
        "requester": REQUESTER,
        "skip_in_testing": False,  # the in-Slicer test needs the packages too
    }
    try:
        accepted = set(inspect.signature(pip_ensure).parameters)
    except (TypeError, ValueError):
        accepted = set(wanted)
    pip_ensure(specs, **{k: v for k, v in wanted.items() if k in accepted})


def ensure_requirements(
    sections: Sequence[str] = ("quantification",), interactive: bool = True
) -> bool:
    """Install what the requirements of these sections need (install.py's rules); True when
    nothing is missing afterwards. Asks first unless interactive is False (tests), and explains
    the offline route when pip fails."""
    version = slicer_version()
    requirements = install.read_requirements(install.REQUIREMENTS_PATH, sections)
    installed = install.installed_versions()
    todo = install.to_install(install.plan(requirements, installed, version))
    if not todo:
        return True
    specs = [d.spec for d in todo]
    listing = "\n".join(f"{d.spec}  ({d.reason})" for d in todo)
    local = local_wheels_arguments()
    pip_ensure = _pip_ensure()
    with tempfile.TemporaryDirectory(prefix="myocardialscar-pip-") as folder:
        constraints_file = os.path.join(folder, "constraints.txt")
        Path(constraints_file).write_text(
            "\n".join(install.constraints(installed, version)) + "\n", encoding="utf-8"
        )
        try:
            if pip_ensure is not None and not local:
                _call_pip_ensure(pip_ensure, specs, constraints_file, interactive)
            else:
                if interactive and not slicer.util.confirmOkCancelDisplay(
                    f"MyocardialScar needs {len(todo)} Python package(s) that are missing or "
                    "older than tested. Install them now? Packages already installed at a newer "
                    "version are kept, and nothing Slicer ships is changed. This needs internet "
                    "access, or a folder of downloaded wheels (see Details).",
                    windowTitle="Install Python packages",
                    detailedText=listing + "\n\n" + _offline_help(specs),
                ):
                    return False
                with slicer.util.WaitCursor():
                    slicer.util.pip_install([*specs, "-c", constraints_file, *local])
        except RuntimeError as error:  # pip_ensure raises this when the user declines
            if "declin" in str(error).lower():
                return False
            return _failed(specs)
        except Exception:  # noqa: BLE001 - pip failed: say why and how to install offline
            return _failed(specs)
    still = install.to_install(install.plan(requirements, install.installed_versions(), version))
    if still:
        slicer.util.errorDisplay(
            "These packages are still missing after installation: "
            + ", ".join(d.spec for d in still)
            + ". Restart Slicer and try again.",
            windowTitle="Installation incomplete",
        )
        return False
    stale = install.upgraded_imports(todo, sys.modules)
    if stale and pip_ensure is None:  # pip_ensure offers the restart itself
        slicer.util.warningDisplay(
            f"Upgraded {', '.join(stale)}, which Slicer had already loaded: restart Slicer "
            "before using MyocardialScar.",
            windowTitle="Restart needed",
        )
        return False
    return True


def _failed(specs: Sequence[str]) -> bool:
    slicer.util.errorDisplay(
        _offline_help(specs),
        windowTitle="Installation failed",
        detailedText=traceback.format_exc(),
    )
    return False
