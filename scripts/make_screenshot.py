"""Compose the extension's screenshot from a `scarseg run` output folder (rendered offscreen).

    .venv/bin/scarseg run ../shared/data/emidec-nifti/Case_P100 -o out/Case_P100 --overwrite
    .venv/bin/python scripts/make_screenshot.py out/Case_P100 Resources/Screenshots/Screenshot01.png

Left: overview.png (short-axis slices, apex to base, segment outlines through Slicer's slice
views); right: bullseye.png (scar % per AHA segment). Source case: EMIDEC Case_P100
(CC BY-NC-SA 4.0, Lalande et al. 2020).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image


def compose(run_dir: Path, out: Path, height: int = 512) -> Path:
    panels = [
        Image.open(run_dir / name).convert("RGB") for name in ("overview.png", "bullseye.png")
    ]
    scaled = [p.resize((round(p.width * height / p.height), height)) for p in panels]
    canvas = Image.new("RGB", (sum(p.width for p in scaled), height), "white")
    x = 0
    for p in scaled:
        canvas.paste(p, (x, 0))
        x += p.width
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    return out


if __name__ == "__main__":
    print(compose(Path(sys.argv[1]), Path(sys.argv[2])))
