"""Draw one bullseye PNG in a child process (outputs.py): a command-line run then imports
matplotlib and draws on the second core while it writes the scene and the other outputs.

    python -m ScarSegmentationLib.bullseye_child < spec.json

spec: {"values": {segment: value or null}, "path": PNG path, "kwargs": bullseye_png's keywords}.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    spec = json.load(sys.stdin)
    from ScarQuantificationLib.bullseye import bullseye_png

    values = {int(k): v for k, v in spec["values"].items()}
    bullseye_png(values, spec["path"], **spec["kwargs"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
