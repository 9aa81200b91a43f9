"""Each shipped ONNX network against its torch original on real slices (EMIDEC Case_P100 and a
MyoPS case): softmax probabilities within 1e-4, with the same Monte-Carlo dropout masks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

torch = pytest.importorskip("torch")

from ScarSegmentationLib import weights  # noqa: E402
from ScarSegmentationLib.crop import CROP_SIZE, CropBox, extract  # noqa: E402
from ScarSegmentationLib.data.geometry import roi_input  # noqa: E402
from ScarSegmentationLib.intensity import standardize_slice  # noqa: E402
from ScarSegmentationLib.io.load import load_study  # noqa: E402
from ScarSegmentationLib.stages.myocardium import net_crops  # noqa: E402
from ScarSegmentationLib.training.checkpoints import load_torch_model  # noqa: E402
from ScarSegmentationLib.training.torch_net import TorchNet  # noqa: E402

pytestmark = pytest.mark.data
TOL = 1e-4


@pytest.fixture(scope="module")
def stacks(data_dir):
    """Each study's standardised slices (K, H, W)."""
    out = []
    for path in (
        data_dir / "emidec-nifti" / "Case_P100" / "Images" / "Case_P100.nii.gz",
        data_dir / "myops-train25" / "Case3007" / "Case3007_LGE.nii.gz",
    ):
        if not path.is_file():
            pytest.skip(f"{path} not present")
        study = load_study(str(path))
        out.append(np.stack([standardize_slice(s) for s in study.image]))
    return out


def _lv_crops(stacks: list[np.ndarray], net: object) -> np.ndarray:
    """Crops about the slice centre, half the slice wide (where the LV lies in these studies),
    with the neighbouring slices a context net takes (stages.myocardium.net_crops)."""
    crops = []
    for std in stacks:
        h, w = std.shape[1:]
        boxes = {k: CropBox(h / 2, w / 2, min(h, w) / 2) for k in range(len(std))}
        x = net_crops(net, std, boxes, list(boxes))
        crops.append(x[:, None] if x.ndim == 3 else x)
    return np.concatenate(crops).astype(np.float32)


def _rng(seed: int | None) -> np.random.Generator | None:
    return None if seed is None else np.random.default_rng(seed)


from ScarSegmentationLib.training.export_onnx import unet_files  # noqa: E402

# every U-Net file: an ensemble's members one by one
UNET_FILES = [f for name in ("lv_roi", "myocardium", "scar_unet") for f in unet_files(name)]


@pytest.mark.parametrize("name", UNET_FILES)
def test_unet_probabilities_match_torch(name, stacks):
    onnx_net = weights.load_model(name)
    torch_net = TorchNet(load_torch_model(name))
    if name.startswith("lv_roi"):
        x = np.stack([roi_input(s) for std in stacks for s in std])[:, None].astype(np.float32)
    else:
        x = _lv_crops(stacks, onnx_net)
    for seed in (None, 0):  # deterministic, then one set of MC-dropout masks
        a = softmax(onnx_net.logits(x, _rng(seed)), axis=1)
        b = softmax(torch_net.logits(x, _rng(seed)), axis=1)
        assert np.abs(a - b).max() < TOL, (name, seed, float(np.abs(a - b).max()))


def test_anatomy_autoencoder_matches_torch(data_dir, require):
    from ScarSegmentationLib.anatomy.model import load_anatomy_model
    from ScarSegmentationLib.training.anatomy_bundle import load_torch_anatomy_model

    onnx_model = load_anatomy_model()
    torch_model = load_torch_anatomy_model(weights.model_path("anatomy", suffix=".pt"))
    import SimpleITK as sitk

    lab_path = require(data_dir / "emidec-nifti" / "Case_P100" / "Contours" / "Case_P100.nii.gz")
    lab = sitk.GetArrayFromImage(sitk.ReadImage(str(lab_path)))
    masks = []
    for k in range(len(lab)):
        myo = (lab[k] >= 2).astype(np.float32)
        if myo.sum() < 50:
            continue
        ys, xs = np.nonzero(myo)
        side = 1.25 * max(np.ptp(ys), np.ptp(xs))
        box = CropBox(float(ys.mean()), float(xs.mean()), float(side))
        masks.append(extract(myo, box, CROP_SIZE, order=0) > 0.5)
    masks = np.stack(masks)
    za, zb = onnx_model.encode(masks), torch_model.encode(masks)
    # latent codes reach magnitudes of tens: float32 summation order (threads) moves
    # them by ~1e-4 absolute, so the check is relative to their scale
    assert np.abs(za - zb).max() < TOL * max(1.0, float(np.abs(zb).max()))
    assert np.mean(onnx_model.decode(zb) == torch_model.decode(zb)) > 0.9999
