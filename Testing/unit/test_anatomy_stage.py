"""AnatomyStage on a synthetic context with a stub anatomy model (no weights needed)."""

import numpy as np
from ScarSegmentationLib.anatomy.correct import correct_mask
from ScarSegmentationLib.anatomy.latent import LatentBank
from ScarSegmentationLib.crop import CROP_SIZE, CropBox
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions
from ScarSegmentationLib.stages.anatomy import AnatomyStage
from ScarSegmentationLib.study import Study

S = CROP_SIZE
YY, XX = np.mgrid[:S, :S]
R2 = (YY - 63.5) ** 2 + (XX - 63.5) ** 2
RING = (R2 <= 32**2) & (R2 > 22**2)
ANG = np.arctan2(YY - 63.5, XX - 63.5)


class StubModel:
    """Latent = gap width; decodes to a ring with that gap; the bank holds the closed ring."""

    def __init__(self, bank_size=1):
        self.bank = LatentBank(
            np.zeros((bank_size, 1), np.float32),
            np.ones(bank_size, bool),
            np.zeros(bank_size, np.int8),
        )

    def encode(self, masks):
        return np.array([[1.0]] * len(masks), dtype=np.float32)

    def decode(self, z):
        return np.stack([RING & ~(np.abs(ANG) < max(0.0, float(v[0]) - 0.2)) for v in z])

    def correct(self, mask, allow_open=False):
        return correct_mask(mask, self.encode, self.decode, self.bank, allow_open)


def probs_for(myo):
    p = np.zeros((3, S, S), np.float32)
    bp = (R2 <= 22**2) & ~myo
    p[2] = myo
    p[1] = bp
    p[0] = ~(myo | bp)
    return p


def make_ctx(myo_crops):
    n = len(myo_crops)
    shape = (n, 100, 110)
    ctx = PipelineContext(
        Study(image=np.zeros(shape, np.float32), spacing=(1, 1, 8)), PipelineOptions()
    )
    # stack stored base -> apex: apex_to_base reverses it
    ctx.study.apex_to_base = np.arange(n)[::-1]
    ctx.masks["Myocardium"] = np.zeros(shape, bool)
    ctx.masks["Blood pool"] = np.zeros(shape, bool)
    ctx.masks["Scar"] = np.ones(shape, bool)
    for k, m in enumerate(myo_crops):
        ctx.crop_boxes[k] = CropBox(50.0, 55.0, 64.0)
        ctx.crop_probs[k] = probs_for(m)
        ctx.masks["Myocardium"][k] = True  # sentinel: stage 2's mask, must stay for passing slices
    return ctx


def gap_ring(width):
    return RING & ~(np.abs(ANG) < width / 2)


def test_failing_slice_is_corrected_and_blood_pool_recomputed():
    ctx = make_ctx([RING, gap_ring(1.0), RING])
    AnatomyStage(StubModel(), n_base=1).run(ctx, lambda f, m: None)
    info = ctx.slice_info
    assert [info[k]["anatomy_pass_before"] for k in range(3)] == [True, False, True]
    assert [info[k]["anatomy_corrected"] for k in range(3)] == [False, True, False]
    assert all(info[k]["anatomy_pass_after"] and info[k]["kept"] for k in range(3))
    assert ctx.masks["Myocardium"][0].all()  # passing slice untouched
    fixed = ctx.masks["Myocardium"][1]
    # the pasted ring: crop side 64 px for a 128 crop -> radii halved, centred at (50, 55)
    yy, xx = np.mgrid[:100, :110]
    r = np.hypot(yy + 0.5 - 50.0, xx + 0.5 - 55.0)
    expected = (r <= 16) & (r > 11)
    assert 2 * (fixed & expected).sum() / (fixed.sum() + expected.sum()) > 0.95
    bp = ctx.masks["Blood pool"][1]
    assert bp[r < 10].all() and not (bp & fixed).any()
    assert any("corrected" in n for n in ctx.notes)


def test_uncorrectable_slices_outside_the_run_are_dropped():
    # k order 0..4, apex_to_base = 4..0: slice 4 is the apex, slice 0 the base
    junk = np.zeros((S, S), bool)
    junk[10:14, 10:14] = True
    ctx = make_ctx([gap_ring(1.0), RING, RING, RING, junk])
    AnatomyStage(StubModel(bank_size=0), n_base=0).run(ctx, lambda f, m: None)
    kept = {k: ctx.slice_info[k]["kept"] for k in range(5)}
    assert kept == {0: False, 1: True, 2: True, 3: True, 4: False}
    for k in (0, 4):
        assert not ctx.masks["Myocardium"][k].any() and not ctx.masks["Scar"][k].any()
    assert ctx.masks["Scar"][2].all()
    assert (
        "below the apex" in ctx.slice_info[4]["drop_reason"]
        or "implausible" in ctx.slice_info[4]["drop_reason"]
    )
    assert sum("dropped" in n for n in ctx.notes) == 2


def test_c_shape_allowed_on_the_basal_slice_only():
    c = gap_ring(1.2)
    ctx = make_ctx([c, RING, RING])  # slice 0 is the base
    AnatomyStage(StubModel(bank_size=0), n_base=1).run(ctx, lambda f, m: None)
    assert ctx.slice_info[0]["anatomy_pass_before"] and ctx.slice_info[0]["kept"]
    ctx = make_ctx([RING, RING, c])  # the C at the apex is not allowed
    AnatomyStage(StubModel(bank_size=0), n_base=1).run(ctx, lambda f, m: None)
    assert not ctx.slice_info[2]["anatomy_pass_before"] and not ctx.slice_info[2]["kept"]
