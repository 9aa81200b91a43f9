"""The files the extension ships are enough: `scarseg run` with the default (full) pipeline on the
shipped sample, with every Lib module that the module CMakeLists do not list made unimportable
(as in an installed extension, which has only the listed files)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "Resources" / "SampleData" / "Case_P100.nii.gz"

DRIVER = """
import sys
LISTED = set(sys.argv[1].split(";"))

def listed(name):
    path = name.replace(".", "/")
    return f"{path}.py" in LISTED or f"{path}/__init__.py" in LISTED

class Block:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in ("ScarSegmentationLib", "ScarQuantificationLib") and not listed(name):
            raise ModuleNotFoundError(f"No module named {name!r} (not shipped)", name=name)
        return None

sys.meta_path.insert(0, Block())
from ScarSegmentationLib.cli import main
code = main(sys.argv[2:])
print("LOADED", sorted(m for m in sys.modules if m.split(".")[0].endswith("Lib")))
sys.exit(code)
"""


def _listed_scripts() -> list[str]:
    scripts = []
    for module in ("ScarSegmentation", "ScarQuantification"):
        text = (REPO / module / "CMakeLists.txt").read_text()
        block = re.search(r"set\(MODULE_PYTHON_SCRIPTS\s+(.*?)\)", text, re.S).group(1)
        scripts += [s for s in block.split() if s.endswith(".py") and "/" in s]
    return scripts


def test_the_listed_files_run_the_whole_pipeline(tmp_path):
    scripts = _listed_scripts()
    assert any(s.startswith("ScarSegmentationLib/") for s in scripts)
    out = tmp_path / "out"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            DRIVER,
            ";".join(scripts),
            "run",
            str(SAMPLE),
            "-o",
            str(out),
            "--mc-samples",
            "1",
            "--scar-method",
            "fused",  # every shipped network (the default `unet` needs no detector or SAM)
            "--no-overview",
            "-q",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (out / "segmentation.seg.nrrd").is_file() and (out / "scar_boxes.tsv").is_file()
    loaded = next(line for line in run.stdout.splitlines() if line.startswith("LOADED"))
    assert "training" not in loaded and "ScarSegmentationLib.stages.scar_segment" in loaded
