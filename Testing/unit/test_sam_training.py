"""Embedding cache (resume, skips, seeding) and the segmenter trainer's batches and sampling."""

import numpy as np
import torch
from ScarSegmentationLib.data.loaders import PatientSlices
from ScarSegmentationLib.training.sam_embeddings import (
    Record,
    ensure_embeddings,
    load_records,
    record_path,
)
from ScarSegmentationLib.training.train_segmenter import _sampling_probs, make_batch

torch.set_num_threads(1)


class StubEncoder(torch.nn.Module):
    """Counts calls; the 'embedding' is the input's mean, so augmented copies differ."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x.mean().expand(x.shape[0], 256, 64, 64).clone()


class StubNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.image_encoder = StubEncoder()


def patient(pid, centre, with_scar=(True, False, True)):
    images, labels = [], []
    yy, xx = np.mgrid[:100, :100]
    r = np.hypot(yy - 50, xx - 50)
    for scar in with_scar:
        lab = np.zeros((100, 100), np.uint8)
        lab[r < 12] = 1
        lab[(r >= 12) & (r < 20)] = 2
        if scar:
            lab[(r >= 12) & (r < 20) & (xx > 55)] = 3
        images.append(np.where(lab == 3, 900.0, 200.0 + 100 * (lab == 1)).astype(np.float32))
        labels.append(lab)
    return PatientSlices(pid, centre, images, labels, list(range(len(images))))


def test_embedding_cache_resumes_and_is_seeded(tmp_path):
    pats = {"emidec/Case_P001": patient("emidec/Case_P001", "emidec"),
            "myops/Case3001": patient("myops/Case3001", "myops", (False, True))}  # fmt: skip
    net = StubNet()
    n = ensure_embeddings(net, pats, pats, "train", tmp_path, copies=2, seed=3)
    assert n == net.image_encoder.calls == 6  # 3 slices with scar x 2 copies
    assert ensure_embeddings(net, pats, pats, "train", tmp_path, copies=2, seed=3) == 0
    recs = load_records(tmp_path, "train")
    assert len(recs) == 6 and {r.copy for r in recs} == {0, 1}
    assert all(r.embedding.dtype == torch.float16 and len(r.boxes) for r in recs)
    assert len(load_records(tmp_path, "train", copies=1)) == 3
    # the same (slice, copy) gives the same sample after deleting it (resume is seeded)
    p = record_path(tmp_path, "train", "emidec/Case_P001", 2, 1)
    before = torch.load(p, weights_only=False)
    p.unlink()
    assert ensure_embeddings(net, pats, pats, "train", tmp_path, copies=2, seed=3) == 1
    after = torch.load(p, weights_only=False)
    assert np.array_equal(before["labels"], after["labels"])
    assert np.array_equal(before["boxes"], after["boxes"])


def test_val_frames_are_plain(tmp_path):
    pats = {"emidec/Case_P001": patient("emidec/Case_P001", "emidec")}
    ensure_embeddings(StubNet(), pats, pats, "val", tmp_path, copies=2)
    recs = load_records(tmp_path, "val")
    assert len(recs) == 4
    by_slice = {}
    for r in recs:
        by_slice.setdefault(r.index, []).append(r)
    for a, b in by_slice.values():  # no augmentation: every copy is the same frame
        assert np.array_equal(a.labels, b.labels) and torch.equal(a.embedding, b.embedding)


def record(centre, boxes):
    labels = np.zeros((256, 256), np.uint8)
    for x0, y0, x1, y1 in boxes:
        labels[y0:y1, x0:x1] = 3
    return Record("p", centre, 0, 0, torch.zeros(256, 64, 64, dtype=torch.float16), labels,
                  np.array(boxes, np.float32))  # fmt: skip


def test_make_batch_targets_are_the_scar_of_one_true_box():
    recs = [record("emidec", [(10, 10, 30, 40), (100, 100, 140, 120)]) for _ in range(6)]
    emb, boxes, target = make_batch(recs, np.random.default_rng(0))
    assert emb.shape == (6, 256, 64, 64) and emb.dtype == torch.float32
    assert boxes.shape == (6, 1, 4) and target.shape == (6, 256, 256)
    sizes = set(target.sum((1, 2)).tolist())
    assert sizes <= {600.0, 800.0}  # exactly one component each
    for b, t in zip(boxes[:, 0].numpy(), target.numpy(), strict=True):
        ys, xs = np.nonzero(t)
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        assert xs.min() - 15 < cx < xs.max() + 15 and ys.min() - 15 < cy < ys.max() + 15


def test_sampling_gives_each_centre_half():
    recs = [record("emidec", [(0, 0, 9, 9)])] * 9 + [record("myops", [(0, 0, 9, 9)])]
    p = _sampling_probs(recs)
    assert np.isclose(p[:9].sum(), 0.5) and np.isclose(p[9], 0.5)
