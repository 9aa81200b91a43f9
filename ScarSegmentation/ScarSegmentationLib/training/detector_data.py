"""YOLO-format dataset of scar frames for the detector (written once, reused on resume).

Train frames: every TRAIN-split slice with an LV, several augmented copies each: the GT LV box
jittered in centre and scale (as the inference box from stage 1 differs from the GT box),
rotated (any angle), flipped, stretched, mildly deformed (all on the sampling grid, so the boxes
stay tight: boxes are recomputed from the transformed label frame, never rotated), then gamma /
contrast / Rayleigh noise. MyoPS slices get twice the copies (a quarter of EMIDEC's slice count).
Slices without scar keep an empty label file: they teach the detector not to fire.
Val frames: VAL-split slices in the plain GT box, no augmentation.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..crop import CROP_SIZE
from ..data import PatientSlices
from ..data.augment import random_intensity, random_spatial
from ..data.datasets import MIN_LV_PIXELS
from ..data.geometry import LV_LABELS, sample_box
from ..intensity import standardize_slice
from ..scar.boxes import Box, gt_boxes
from ..scar.frame import SCAR_SIZE, gt_box, label_frame, scar_frame

CENTRE_COPY_FACTOR = {"emidec": 1, "myops": 2}


@dataclass
class DatasetSpec:
    copies: int = 4  # augmented copies per EMIDEC train slice
    seed: int = 0
    train: tuple[str, ...] = ()
    val: tuple[str, ...] = ()


def yolo_line(box: Box, size: int = SCAR_SIZE) -> str:
    """`0 cx cy w h`, normalised to the frame (class 0 = scar)."""
    cx, cy = (box.x0 + box.x1) / 2 / size, (box.y0 + box.y1) / 2 / size
    w, h = (box.x1 - box.x0) / size, (box.y1 - box.y0) / size
    return f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def augmented_frame(
    std: np.ndarray, label: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One augmented (image frame, label frame) pair around the jittered GT LV box."""
    box = gt_box(label)
    assert box is not None
    sp = random_spatial(box, rng, SCAR_SIZE, shift=0.10, scale=(0.8, 1.25), p_elastic=0.3)
    # elastic_field is in output pixels of a CROP_SIZE crop (sample_box scales by side/CROP_SIZE)
    disp = None if sp.displacement is None else sp.displacement * (CROP_SIZE / SCAR_SIZE)
    kw = {
        "rotation_deg": sp.rotation_deg,
        "flip": sp.flip,
        "displacement": disp,
        "aspect": sp.aspect,
    }
    img = sample_box(std, sp.box, SCAR_SIZE, **kw)
    lab = sample_box(label, sp.box, SCAR_SIZE, order=0, **kw)
    return np.clip(random_intensity(img, rng), 0.0, 1.0), lab


def _name(pid: str, index: int, copy: int) -> str:
    return f"{re.sub(r'[^A-Za-z0-9]+', '_', pid)}_s{index:02d}_c{copy}"


def _write(root: Path, part: str, name: str, image: np.ndarray, lab: np.ndarray) -> int:
    from skimage import io

    io.imsave(
        root / "images" / part / f"{name}.png",
        np.clip(np.rint(image * 255), 0, 255).astype(np.uint8),
        check_contrast=False,
    )
    boxes = gt_boxes(lab)
    (root / "labels" / part / f"{name}.txt").write_text("".join(yolo_line(b) + "\n" for b in boxes))
    return len(boxes)


def has_lv(label: np.ndarray) -> bool:
    return int(np.isin(label, LV_LABELS).sum()) >= MIN_LV_PIXELS


def build(root: Path, patients: dict[str, PatientSlices], spec: DatasetSpec) -> dict:
    """Write root/{images,labels}/{train,val}, root/data.yaml and root/manifest.json."""
    for sub in ("images/train", "images/val", "labels/train", "labels/val"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    counts = {
        "train_images": 0,
        "train_boxes": 0,
        "train_empty": 0,
        "val_images": 0,
        "val_boxes": 0,
    }
    for part, ids in (("train", spec.train), ("val", spec.val)):
        for pid in ids:
            p = patients[pid]
            for i, (img, lab) in enumerate(zip(p.images, p.labels, strict=True)):
                if not has_lv(lab):
                    continue
                std = standardize_slice(img)
                if part == "val":
                    box = gt_box(lab)
                    n = _write(
                        root, part, _name(pid, i, 0), scar_frame(std, box), label_frame(lab, box)
                    )
                    counts["val_images"] += 1
                    counts["val_boxes"] += n
                    continue
                for c in range(spec.copies * CENTRE_COPY_FACTOR.get(p.centre, 1)):
                    image, lab_f = augmented_frame(std, lab, rng)
                    n = _write(root, part, _name(pid, i, c), image, lab_f)
                    counts["train_images"] += 1
                    counts["train_boxes"] += n
                    counts["train_empty"] += n == 0
    (root / "data.yaml").write_text(
        f"path: {root.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: scar\n"
    )
    manifest = {"spec": asdict(spec), "counts": counts}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def existing(root: Path, spec: DatasetSpec) -> dict | None:
    """The manifest when root already holds a dataset built with this spec."""
    path = root / "manifest.json"
    if not path.is_file() or not (root / "data.yaml").is_file():
        return None
    manifest = json.loads(path.read_text())
    want = json.loads(json.dumps(asdict(spec)))  # tuples -> lists, as stored
    return manifest if manifest.get("spec") == want else None
