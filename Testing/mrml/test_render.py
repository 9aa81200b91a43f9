"""overview.png through the MRML slice view: size, content, contours on the anatomy, no EGL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from ScarQuantificationLib.segments import SEGMENT_COLORS
from ScarSegmentationLib.mrml_segments import segmentation_node_from_masks
from ScarSegmentationLib.mrml_volumes import volume_node_from_study
from ScarSegmentationLib.render import legend_height, render_overview


def _colour_mask(rgb: np.ndarray, name: str) -> np.ndarray:
    want = np.round(np.array(SEGMENT_COLORS[name]) * 255)
    return np.abs(rgb.astype(int) - want).max(axis=-1) <= 2


@pytest.fixture
def nodes(scene, study, masks):
    volume = volume_node_from_study(scene, study, "annulus")
    return volume, segmentation_node_from_masks(scene, masks, volume, "seg")


def test_montage_size_order_and_contour_colours(scene, nodes, tmp_path):
    volume, seg = nodes
    before = scene.GetNumberOfNodes()
    path = render_overview(
        volume, seg, tmp_path / "overview.png", slices=[5, 4, 3, 2, 1], columns=3, size=96
    )
    assert scene.GetNumberOfNodes() == before  # rendering used a private scene
    rgb = np.asarray(Image.open(path).convert("RGB"))
    legend = legend_height(seg, volume)
    assert legend > 0
    assert rgb.shape == (2 * 96 + legend, 3 * 96, 3)
    tiles, strip = rgb[: 2 * 96], rgb[2 * 96 :]
    assert len(np.unique(tiles.reshape(-1, 3), axis=0)) > 50  # an image, not a flat fill
    for name in ("Myocardium", "Blood pool", "Scar"):
        assert _colour_mask(tiles, name).sum() > 20, name
        assert _colour_mask(strip, name).sum() > 10, f"{name} missing from the legend"
    assert _colour_mask(rgb, "No-reflow").sum() == 0  # empty segment: no outline, no legend
    assert strip.max() == 255  # white names next to the swatches
    # The 6th cell of the 2x3 grid is unused (5 slices): it stays black.
    assert rgb[96 : 2 * 96, 192:].max() == 0


def test_scar_contour_sits_on_the_bright_scar_in_the_right_place(nodes, tmp_path):
    """The synthetic scar is the brightest tissue, at larger i (right) and smaller j (up)."""
    volume, seg = nodes
    size = 200
    path = render_overview(volume, seg, tmp_path / "one.png", slices=[4], size=size)
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)[:size]  # the tile, no legend
    scar_outline = _colour_mask(rgb, "Scar")
    assert scar_outline.sum() > 20
    grey = (rgb.max(axis=-1) - rgb.min(axis=-1)) < 8
    brightness = np.where(grey, rgb.mean(axis=-1), 0)
    bright = brightness > np.percentile(brightness[grey], 99)
    ys, xs = np.nonzero(scar_outline)
    by, bx = np.nonzero(bright)
    assert np.hypot(ys.mean() - by.mean(), xs.mean() - bx.mean()) < 0.05 * size
    assert xs.mean() > size / 2 and ys.mean() < size / 2  # upper right: i right, j down


def test_without_segmentation_only_the_image_is_drawn(nodes, tmp_path):
    volume, _ = nodes
    rgb = np.asarray(
        Image.open(render_overview(volume, None, tmp_path / "o.png", size=64)).convert("RGB")
    )
    assert rgb.shape == (2 * 64, 4 * 64, 3)  # 6 slices, 4 columns
    assert rgb.max() > 100
    for name, colour in SEGMENT_COLORS.items():
        if max(colour) - min(colour) > 0.2:  # grey outlines are indistinguishable from the image
            assert _colour_mask(rgb, name).sum() < 5, name


def test_bad_slice_indices_are_refused(nodes, tmp_path):
    volume, seg = nodes
    with pytest.raises(ValueError, match="slices"):
        render_overview(volume, seg, tmp_path / "o.png", slices=[0, 6])


def test_no_offscreen_opengl_raises_render_error_instead_of_crashing(tmp_path):
    """With EGL vendors hidden, VTK falls back to OSMesa (absent here) and would segfault."""
    script = textwrap.dedent(
        f"""
        import numpy as np
        from ScarSegmentationLib.mrml_scene import new_scene
        from ScarSegmentationLib.mrml_volumes import volume_node_from_study
        from ScarSegmentationLib.render import RenderError, render_overview
        from ScarSegmentationLib.study import Study
        scene = new_scene()
        volume = volume_node_from_study(scene, Study(image=np.ones((2, 8, 8), np.float32), spacing=(1, 1, 1)))
        try:
            render_overview(volume, None, {str(tmp_path / "o.png")!r}, size=32)
            print("RENDERED")
        except RenderError as exc:
            print("RENDER_ERROR", exc)
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["__EGL_VENDOR_LIBRARY_FILENAMES"] = "/nonexistent/egl_vendor.json"
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"crashed with {proc.returncode}: {proc.stderr[-2000:]}"
    if "RENDERED" in proc.stdout:
        pytest.skip(
            "EGL could not be hidden here (not a glvnd EGL), so the fallback was not exercised"
        )
    assert "RENDER_ERROR" in proc.stdout and "EGL" in proc.stdout
