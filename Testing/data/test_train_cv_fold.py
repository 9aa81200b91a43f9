"""Cross-validation training on real data: a fold run never uses its held-out patients, writes
final.pt with its fold, and cv_models turns the fold runs into a model folder bench_cv accepts
(also two variants of a fold averaged as one ensemble)."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path

import onnx
import pytest
import torch
from ScarSegmentationLib import weights
from ScarSegmentationLib.data.folds import train_val_for
from ScarSegmentationLib.runtime.ensemble import EnsembleUNet
from ScarSegmentationLib.training import cv_models, train_unet

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_cv import check_models  # noqa: E402

torch.set_num_threads(1)


def _train(kind: str, out, data_dir, *extra: str) -> None:
    args = [kind, "--fold", "0", "--epochs", "1", "--samples-per-epoch", "4", "--batch-size", "2",
            "--data", str(data_dir), "--out", str(out), *extra]  # fmt: skip
    assert train_unet.main(args) == 0


def test_fold_run_and_model_folder(tmp_path, data_dir, caplog):
    caplog.set_level(logging.INFO, logger="scarseg.train")
    _train("scar_nr", tmp_path / "scar_nr_fold0", data_dir, "--bf16")
    _train("roi", tmp_path / "roi_fold0", data_dir)
    train, held_out = train_val_for(0)
    assert not set(train) & set(held_out) and len(train) + len(held_out) == 105
    assert f"fold 0: {len(train)} training patients" in caplog.text
    ck = torch.load(tmp_path / "scar_nr_fold0" / "final.pt", weights_only=False)
    assert ck["config"]["fold"] == 0 and ck["config"]["recipe"] == "nnunet"
    assert ck["config"]["class_names"][-1] == "no_reflow" and ck["val"] == {}
    assert ck["config"]["bf16"] is True  # mixed precision; the weights stay float32
    assert all(v.dtype == torch.float32 for v in ck["model"].values() if v.is_floating_point())

    folder = cv_models.assemble(tmp_path, 0)
    prov = json.loads((folder / cv_models.PROVENANCE).read_text())
    assert prov["fold"] == 0 and prov["installed_not_cross_validated"] == []
    for name in ("lv_roi", "scar_unet"):
        meta = {p.key: p.value for p in onnx.load(folder / f"{name}.onnx").metadata_props}
        config = json.loads(next(v for v in meta.values() if v.startswith("{")))
        assert config["fold"] == 0, name
    sums = (folder / "checksums.sha256").read_text()
    assert "lv_roi.onnx" in sums and "scar_unet.onnx" in sums

    # a further round may build on the same fold's model, never on another fold's
    ck_path = str(tmp_path / "scar_nr_fold0" / "final.pt")
    _train("scar_nr", tmp_path / "again0", data_dir, "--init", ck_path)
    args = ["scar_nr", "--fold", "1", "--epochs", "1", "--data", str(data_dir),
            "--out", str(tmp_path / "wrong"), "--init", ck_path]  # fmt: skip
    with pytest.raises(ValueError, match="fold 0, not fold 1"):
        train_unet.main(args)


def test_adam_poly_recipe_and_no_plateau_without_validation(tmp_path, data_dir):
    _train("roi", tmp_path / "roi_adam", data_dir, "--recipe", "adam-poly")
    ck = torch.load(tmp_path / "roi_adam" / "final.pt", weights_only=False)
    assert ck["config"]["recipe"] == "adam-poly" and ck["config"]["fold"] == 0
    with pytest.raises(ValueError, match="needs validation patients"):
        _train("roi", tmp_path / "roi_plateau", data_dir, "--recipe", "adam-plateau")


def test_deep_supervision_run_resumes_and_saves_the_plain_net(tmp_path, data_dir):
    out = tmp_path / "scar_nr_ds"
    _train("scar_nr", out, data_dir, "--deep-supervision", "3", "--raw-noise", "0.5", "0.05")
    last = torch.load(out / "last.pt", weights_only=False)
    assert last["config"]["deep_supervision"] == 3 and "deep_supervision_heads" in last
    assert last["config"]["raw_noise"] == [0.5, 0.05]
    # the saved model is the plain net: it loads into the architecture that gets exported
    assert not any(k.startswith("heads") for k in last["model"])
    _train("scar_nr", out, data_dir, "--deep-supervision", "3", "--epochs", "2", "--resume")
    assert torch.load(out / "final.pt", weights_only=False)["epoch"] == 1
    # a plain run cannot be resumed with deep supervision (its optimizer has no heads)
    _train("scar_nr", tmp_path / "plain", data_dir)
    with pytest.raises(ValueError, match="without --deep-supervision"):
        _train("scar_nr", tmp_path / "plain", data_dir, "--deep-supervision", "3", "--resume")


def test_context_run_warm_starts_from_a_one_channel_member(tmp_path, data_dir, caplog):
    caplog.set_level(logging.INFO, logger="scarseg.train")
    plain = tmp_path / "plain"
    _train("scar_nr", plain, data_dir)
    out = tmp_path / "ctx"
    _train("scar_nr", out, data_dir, "--context", "1", "--init", str(plain / "final.pt"))
    # the log names the file the run really started from (links resolved, with its digest)
    digest = hashlib.sha256((plain / "final.pt").read_bytes()).hexdigest()
    assert f"sha256 {digest}" in caplog.text
    final = torch.load(out / "final.pt", weights_only=False)
    assert final["config"]["context"] == 1 and final["config"]["in_channels"] == 3
    assert final["model"]["stem.body.0.weight"].shape[1] == 3
    with pytest.raises(ValueError, match="--context"):
        _train("roi", tmp_path / "roi_ctx", data_dir, "--context", "1")
    with pytest.raises(ValueError, match="--context"):
        _train(
            "scar_unet", tmp_path / "syn_ctx", data_dir, "--context", "1", "--synthetic-scar", "0.5"
        )

    # the one-slice and the 2.5D model of fold 0 averaged as one fold model (cv_models --combine)
    _train("roi", tmp_path / "roi_fold0", data_dir)
    for run in ("plain", "ctx"):
        (tmp_path / run / "scar_nr_fold0").symlink_to(tmp_path / run, target_is_directory=True)
        (tmp_path / run / "roi_fold0").symlink_to(tmp_path / "roi_fold0")
        cv_models.assemble(tmp_path / run, 0)
    dest = str(tmp_path / "mix" / "fold{k}")
    assert cv_models.main(["--folds", "0", "--combine", str(tmp_path / "plain" / "fold{k}"),
                           str(tmp_path / "ctx" / "fold{k}"), "--dest", dest]) == 0  # fmt: skip
    mix = tmp_path / "mix" / "fold0"
    model = weights.load_model("scar_unet", mix)  # every member's checksum verified
    assert isinstance(model, EnsembleUNet) and model.config["folds"] == [0, 0]
    assert model.config["in_channels"] == 3
    assert check_models([mix], "unet") == []
    with pytest.raises(SystemExit, match="one of the sources"):
        cv_models.combine([str(tmp_path / "plain" / "fold{k}"), dest], 0, dest)
