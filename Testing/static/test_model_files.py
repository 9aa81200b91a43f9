"""The shipped model files: each listed in checksums.sha256 with its true SHA256, and each
documented with that SHA256 in its model card."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[2] / "Resources" / "Models"
RUNTIME = sorted(
    p
    for p in MODELS.iterdir()
    if p.suffix in (".onnx", ".npz") or p.name.endswith(".ensemble.json")
)


def _sums() -> dict[str, str]:
    lines = (MODELS / "checksums.sha256").read_text().splitlines()
    return {ln.split()[1]: ln.split()[0] for ln in lines if ln.strip()}


def test_every_network_of_the_pipeline_ships_as_onnx():
    names = {p.name for p in RUNTIME}
    for name in ("lv_roi", "myocardium", "scar_unet", "anatomy_encoder", "anatomy_decoder",
                 "scar_detector", "sam_encoder", "scar_segmenter"):  # fmt: skip
        manifest = MODELS / f"{name}.ensemble.json"
        if manifest.is_file():  # an ensemble of fold models: every member ships
            members = json.loads(manifest.read_text())["members"]
            assert members and all(m in names for m in members), (name, members)
        else:
            assert f"{name}.onnx" in names, name
    assert "anatomy.npz" in names


@pytest.mark.parametrize("path", RUNTIME, ids=[p.name for p in RUNTIME])
def test_checksum_and_model_card(path):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert _sums().get(path.name) == digest, f"{path.name}: checksums.sha256 is stale"
    cards = [c for c in MODELS.glob("*.md") if digest in c.read_text()]
    assert cards, f"no model card gives the SHA256 of {path.name}"
