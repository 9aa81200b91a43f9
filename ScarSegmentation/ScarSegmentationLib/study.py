"""The in-memory study: an LGE short-axis stack with full geometry, on the input's own grid."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Study:
    """A 3D LGE stack.

    image: float32 array indexed (k, j, i) = (slice, row, column), exactly the input grid.
    spacing, origin: (i, j, k) order in mm, ITK/LPS convention (as SimpleITK reads them).
    direction: 3x3, column c is the LPS direction of index axis c (i, j, k).
    apex_to_base: slice indices k ordered from apex to base (derived from geometry, or
        from anatomy when geometry cannot tell); every per-slice table follows this order.
    """

    image: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    name: str = "study"
    source: str = ""
    apex_to_base: np.ndarray | None = None
    slice_order_basis: str = "input order"  # how apex_to_base was decided, for the report
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        if self.apex_to_base is None:
            self.apex_to_base = np.arange(self.image.shape[0])

    @property
    def num_slices(self) -> int:
        return int(self.image.shape[0])

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing)) / 1000.0

    def slice_positions_mm(self) -> np.ndarray:
        """Signed position of each slice k along the stack normal (mm), in k order."""
        normal = self.direction[:, 2]
        k = np.arange(self.num_slices)
        centres = np.asarray(self.origin)[None, :] + np.outer(k * self.spacing[2], normal)
        return centres @ normal

    def index_to_lps(self) -> np.ndarray:
        """4x4 matrix mapping (i, j, k, 1) to LPS mm."""
        m = np.eye(4)
        m[:3, :3] = self.direction @ np.diag(self.spacing)
        m[:3, 3] = self.origin
        return m
