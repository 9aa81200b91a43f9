"""Cached TinyViT embeddings of scar frames, so the decoder can be fine-tuned without the encoder.

The encoder costs about 1-2.5 s per frame on one CPU core, a decoder step on cached embeddings
a few seconds per batch of 8. Each training slice with scar gets `copies` frames: copy 0 with
only a frame-box shift (as a stage-2 crop error), later copies fully augmented (sam_augment);
val/test slices get one plain frame. One file per (slice, copy):
`<root>/<split>/<patient>_s<slice>_c<copy>.pt` = {"embedding" (256, 64, 64) float16, "labels"
(256, 256) uint8, "boxes" (M, 4) float32, ...}. Existing files are skipped, so an interrupted
precompute resumes where it stopped; the random draws are seeded per (slice, copy), so the
cache does not depend on when it was interrupted.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from ..data.loaders import PatientSlices
from ..intensity import standardize_slice
from ..scar.sam_augment import as_array, make_frame_sample
from . import sam_model

log = logging.getLogger("scarseg.train")


@dataclass
class Record:
    patient_id: str
    centre: str
    index: int  # slice position in the patient's stack
    copy: int
    embedding: torch.Tensor  # (256, 64, 64) float16
    labels: np.ndarray  # (256, 256) uint8 frame labels
    boxes: np.ndarray  # (M, 4) ground-truth scar boxes in the frame


def scar_slices(patients: dict[str, PatientSlices], ids: Iterable[str]) -> list[tuple[str, int]]:
    """(patient id, slice index) of every slice with scar or no-reflow labels."""
    return [
        (pid, i)
        for pid in sorted(ids)
        for i, lab in enumerate(patients[pid].labels)
        if np.any(lab >= 3)
    ]


def record_path(root: Path, split: str, pid: str, index: int, copy: int) -> Path:
    return Path(root) / split / f"{pid.replace('/', '_')}_s{index:02d}_c{copy}.pt"


def slice_rng(seed: int, pid: str, index: int, copy: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(pid.encode()), index, copy])


def _strength(split: str, copy: int) -> str:
    if split != "train":
        return "none"
    return "shift" if copy == 0 else "full"


def ensure_embeddings(
    net: torch.nn.Module,
    patients: dict[str, PatientSlices],
    ids: Iterable[str],
    split: str,
    root: Path,
    copies: int = 1,
    seed: int = 0,
    deadline: datetime | None = None,
) -> int:
    """Compute the missing embeddings (copy-major order: every slice's copy 0 first); stop
    before an encode would pass `deadline`. Returns how many were computed."""
    items = scar_slices(patients, ids)
    std_cache: dict[tuple[str, int], np.ndarray] = {}
    done, seconds = 0, 0.0
    for copy in range(copies):
        for pid, i in items:
            path = record_path(root, split, pid, i, copy)
            if path.exists():
                continue
            if deadline and time.time() + seconds > deadline.timestamp():
                log.info("embeddings: deadline reached after %d new frames", done)
                return done
            t0 = time.perf_counter()
            p = patients[pid]
            if (pid, i) not in std_cache:
                std_cache[(pid, i)] = standardize_slice(p.images[i])
            rng = slice_rng(seed, pid, i, copy)
            sample = make_frame_sample(
                std_cache[(pid, i)], p.labels[i], rng, _strength(split, copy)
            )
            blob: dict = {"patient_id": pid, "centre": p.centre, "index": i, "copy": copy}
            if sample is None or not sample.boxes:
                blob["skip"] = True  # no LV, or scar specks too small for a box
            else:
                with torch.no_grad():
                    emb = sam_model.encode(net, sample.image[None])[0]
                blob.update(
                    embedding=emb.to(torch.float16),
                    labels=sample.labels,
                    boxes=as_array(sample.boxes),
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save(blob, tmp)
            tmp.replace(path)
            done += 1
            seconds = time.perf_counter() - t0
            if done % 25 == 0:
                log.info("embeddings %s copy %d: %d new frames (%.2f s/frame)",
                         split, copy, done, seconds)  # fmt: skip
    return done


def load_records(root: Path, split: str, copies: int | None = None) -> list[Record]:
    """Every cached, non-skipped record of a split (optionally only copies < `copies`)."""
    out = []
    for path in sorted((Path(root) / split).glob("*.pt")):
        blob = torch.load(path, map_location="cpu", weights_only=False)
        if blob.get("skip") or (copies is not None and blob["copy"] >= copies):
            continue
        out.append(
            Record(
                blob["patient_id"],
                blob["centre"],
                int(blob["index"]),
                int(blob["copy"]),
                blob["embedding"],
                np.asarray(blob["labels"], dtype=np.uint8),
                np.asarray(blob["boxes"], dtype=np.float32).reshape(-1, 4),
            )
        )
    return out
