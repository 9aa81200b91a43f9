"""Autoencoder shapes and speed, and the anatomy bundle's save/load with checksum verification."""

import hashlib
import time

import numpy as np
import pytest
import torch
from ScarSegmentationLib.anatomy.checks import CheckThresholds
from ScarSegmentationLib.anatomy.gmm import GaussianMixture
from ScarSegmentationLib.anatomy.latent import LatentBank
from ScarSegmentationLib.anatomy.model import AnatomyModel, load_anatomy_model
from ScarSegmentationLib.errors import ModelError
from ScarSegmentationLib.training.anatomy_bundle import load_torch_anatomy_model, save_anatomy_model
from ScarSegmentationLib.training.autoencoder import MaskAutoencoder, decode_latents, encode_masks
from ScarSegmentationLib.training.export_onnx import export_anatomy

torch.set_num_threads(1)


def test_autoencoder_shapes_and_speed():
    torch.manual_seed(0)
    ae = MaskAutoencoder().eval()
    masks = np.random.default_rng(0).random((10, 128, 128)) > 0.5
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        z = encode_masks(ae, masks)
        out = decode_latents(ae, z)
        best = min(best, time.perf_counter() - t)
    assert z.shape == (10, 16) and out.shape == (10, 128, 128) and out.dtype == bool
    assert best < 0.5  # a study's slices in one batch, one thread


def bundle():
    torch.manual_seed(0)
    ae = MaskAutoencoder().eval()
    gmm = GaussianMixture(np.full(2, 0.5), np.zeros((2, 16)), np.stack([np.eye(16)] * 2))
    rng = np.random.default_rng(0)
    bank = LatentBank(rng.normal(size=(5, 16)).astype(np.float32), np.array([1, 1, 0, 1, 0], bool),
                      np.array([0, 0, 1, 1, 1], np.int8))  # fmt: skip
    return AnatomyModel(ae, gmm, bank, CheckThresholds(max_thickness=0.5), {"steps": 1})


def test_bundle_round_trip_with_checksum_and_onnx_export(tmp_path):
    model = bundle()
    path = save_anatomy_model(model, tmp_path / "anatomy.pt")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "checksums.sha256").write_text(f"{digest}  anatomy.pt\n")
    masks = np.zeros((2, 128, 128), bool)
    masks[1, 40:80, 40:80] = True
    torch_loaded = load_torch_anatomy_model(path)
    assert np.allclose(torch_loaded.encode(masks), model.encode(masks), atol=1e-6)
    export_anatomy(tmp_path)  # the shipped form: two ONNX graphs and an npz, checksummed
    loaded = load_anatomy_model(tmp_path)
    assert loaded.thresholds.max_thickness == 0.5 and loaded.info == {"steps": 1}
    assert np.array_equal(loaded.bank.latents, model.bank.latents)
    assert np.array_equal(loaded.bank.closed, model.bank.closed)
    assert np.allclose(loaded.gmm.covariances, model.gmm.covariances)
    assert np.allclose(loaded.encode(masks), model.encode(masks), atol=1e-4)
    z = model.encode(masks)
    assert np.array_equal(loaded.decode(z), model.decode(z))


def test_corrupt_bundle_is_refused(tmp_path):
    path = save_anatomy_model(bundle(), tmp_path / "anatomy.pt")
    (tmp_path / "checksums.sha256").write_text(f"{'0' * 64}  anatomy.pt\n")
    with pytest.raises(ModelError, match="anatomy.pt"):
        load_torch_anatomy_model(path)
    with pytest.raises(ModelError, match="not found"):
        load_anatomy_model(tmp_path)  # no exported files there
