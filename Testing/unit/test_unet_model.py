import numpy as np
import pytest
import torch
from ScarSegmentationLib.training.unet import ResUNet, enable_mc_dropout, mc_predict

torch.set_num_threads(1)


def tiny(n_classes=3, dropout=0.2):
    torch.manual_seed(0)
    return ResUNet(n_classes=n_classes, base_filters=2, depth=4, dropout=dropout)


def test_output_shape_and_config():
    m = tiny(n_classes=3)
    out = m(torch.zeros(2, 1, 64, 64))
    assert out.shape == (2, 3, 64, 64)
    assert m.config["base_filters"] == 2 and m.config["n_classes"] == 3 and m.config["depth"] == 4


def test_four_downsamplings():
    m = tiny()
    pools = [x for x in m.modules() if isinstance(x, torch.nn.MaxPool2d)]
    drops = [x for x in m.modules() if isinstance(x, torch.nn.Dropout2d)]
    assert len(pools) == 4 and len(drops) == 4


def test_deterministic_mode_is_repeatable():
    m = tiny()
    x = torch.rand(3, 1, 32, 32)
    a = mc_predict(m, x, samples=1)
    b = mc_predict(m, x, samples=0)
    assert a.shape == (1, 3, 3, 32, 32)
    assert torch.equal(a, b)
    np.testing.assert_allclose(a.sum(2).numpy(), 1.0, atol=1e-5)


def test_mc_dropout_varies_and_keeps_batchnorm_frozen():
    m = tiny(dropout=0.5)
    bn = next(x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    x = torch.rand(2, 1, 32, 32)
    p = mc_predict(m, x, samples=5)
    assert p.shape == (5, 2, 3, 32, 32)
    assert float(p.var(0).max()) > 0
    assert torch.equal(bn.running_mean, before)  # BN stayed in eval mode
    assert not any(x.training for x in m.modules())  # left in eval mode


def test_enable_mc_dropout_sets_only_dropout_to_train():
    m = tiny()
    enable_mc_dropout(m, True)
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout2d):
            assert mod.training
        elif isinstance(mod, torch.nn.BatchNorm2d):
            assert not mod.training


def test_rejects_size_not_divisible():
    m = tiny().eval()
    with pytest.raises(RuntimeError):
        m(torch.zeros(1, 1, 24, 24))  # 24 / 2**4 is not an integer
