"""overview.png: a montage of short-axis slices with segment outlines, rendered offscreen through
the MRML slice view pipeline (vtkMRMLSliceLogic + the segmentations 2D displayable manager).

Without a display, VTK renders through EGL (Mesa). The window needs an interactor, otherwise the
displayable managers crash while initialising. Rendering happens in a private scene holding copies
of the volume and segmentation, so the caller's scene (Slicer's own, in the GUI) gains no slice
nodes and the global displayable manager factory is left alone.
"""

from __future__ import annotations

import ctypes.util
import importlib
import importlib.util
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Must be set before the first vtkRenderWindow is created (VTK picks the window class then).
if sys.platform.startswith("linux") and not (
    os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
):
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np  # noqa: E402
import slicer  # noqa: E402
import vtk  # noqa: E402
from PIL import Image  # noqa: E402
from vtkmodules.util import numpy_support  # noqa: E402

from .errors import ScarSegError  # noqa: E402
from .mrml_scene import new_scene, scene_logic  # noqa: E402
from .mrml_segments import masks_from_segmentation_node  # noqa: E402
from .mrml_volumes import copy_geometry, ijk_to_ras  # noqa: E402

_OUTLINE_PX = 2
_MARGIN = 1.4  # field of view = margin x segmentation extent + padding
_PADDING_MM = 10.0


class RenderError(ScarSegError):
    """Offscreen rendering is not available here (no EGL/OSMesa/X); overview.png is skipped."""


def render_overview(
    volume_node: slicer.vtkMRMLScalarVolumeNode,
    segmentation_node: slicer.vtkMRMLSegmentationNode | None,
    out_png: str | Path,
    slices: Sequence[int] | None = None,
    columns: int = 4,
    size: int = 256,
    field_of_view_mm: float | None = None,
) -> Path:
    """Write a montage PNG of slices (given order, e.g. apex -> base; default all, k order).

    Each tile is `size` x `size` pixels, the volume's own slice plane (i to the right, j down),
    segment outlines in the segment colours, the slice index in a corner. The field of view is
    square: `field_of_view_mm`, or the segments' in-plane extent with a margin, or the whole image.
    Below the tiles, a legend names the colour of each non-empty segment (legend_height).
    Raises RenderError when no offscreen OpenGL is available.
    """
    dims = volume_node.GetImageData().GetDimensions()
    order = list(range(dims[2])) if slices is None else [int(k) for k in slices]
    bad = [k for k in order if not 0 <= k < dims[2]]
    if bad or not order:
        raise ValueError(f"slices {bad or order} not in 0..{dims[2] - 1}")
    out_png = Path(out_png)
    view = _SliceView(volume_node, segmentation_node, size)
    try:
        centre_ij, fov = _framing(volume_node, segmentation_node, field_of_view_mm)
        tiles = [view.render(k, centre_ij, fov) for k in order]
    finally:
        view.close()
    rows = math.ceil(len(tiles) / columns)
    montage = np.zeros((rows * size, min(columns, len(tiles)) * size, 3), dtype=np.uint8)
    for n, tile in enumerate(tiles):
        r, c = divmod(n, columns)
        montage[r * size : (r + 1) * size, c * size : (c + 1) * size] = tile
    if segmentation_node is not None:
        montage = np.concatenate([montage, _legend(segmentation_node, volume_node, montage)])
    out_png.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(montage).save(out_png)
    return out_png


_LEGEND_ROW_PX = 18


def legend_height(
    segmentation_node: slicer.vtkMRMLSegmentationNode, volume_node: slicer.vtkMRMLScalarVolumeNode
) -> int:
    """Pixels the legend adds below the tiles (0 without a non-empty segment)."""
    return _LEGEND_ROW_PX * len(_legend_rows(_legend_entries(segmentation_node, volume_node), None))


def _legend_entries(
    segmentation_node: slicer.vtkMRMLSegmentationNode, volume_node: slicer.vtkMRMLScalarVolumeNode
) -> list[tuple[str, tuple[int, int, int]]]:
    """(name, RGB 0-255) of the segments that have voxels, in the segmentation's order."""
    drawn = {n for n, m in masks_from_segmentation_node(segmentation_node, volume_node).items()
             if np.any(m)}  # fmt: skip
    segmentation = segmentation_node.GetSegmentation()
    out = []
    for index in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(index)
        if segment.GetName() in drawn:
            rgb = tuple(int(round(255 * c)) for c in segment.GetColor())
            out.append((segment.GetName(), rgb))
    return out


def _legend_rows(
    entries: list[tuple[str, tuple[int, int, int]]], width: int | None
) -> list[list[tuple[str, tuple[int, int, int]]]]:
    """Entries wrapped into rows no wider than `width` pixels (a single row when None)."""
    rows: list[list[tuple[str, tuple[int, int, int]]]] = []
    used = 0
    for entry in entries:
        need = 16 + 7 * len(entry[0]) + 12
        if not rows or (width is not None and used + need > width and rows[-1]):
            rows.append([])
            used = 0
        rows[-1].append(entry)
        used += need
    return rows


def _legend(
    segmentation_node: slicer.vtkMRMLSegmentationNode,
    volume_node: slicer.vtkMRMLScalarVolumeNode,
    montage: np.ndarray,
) -> np.ndarray:
    """Rows of (outline-coloured swatch, segment name) on black, as wide as the montage."""
    from PIL import ImageDraw

    width = montage.shape[1]
    rows = _legend_rows(_legend_entries(segmentation_node, volume_node), width)
    strip = Image.new("RGB", (width, _LEGEND_ROW_PX * len(rows)), (0, 0, 0))
    draw = ImageDraw.Draw(strip)
    for r, row in enumerate(rows):
        x, y = 4, r * _LEGEND_ROW_PX + 4
        for name, rgb in row:
            draw.rectangle([x, y, x + 10, y + 10], outline=rgb, width=_OUTLINE_PX)
            draw.text((x + 14, y), name, fill=(255, 255, 255))
            x += 16 + 7 * len(name) + 12
    return np.asarray(strip, dtype=np.uint8)


class _SliceView:
    """One offscreen slice view on a private scene; render(k) returns an RGB tile."""

    def __init__(
        self,
        volume_node: slicer.vtkMRMLScalarVolumeNode,
        segmentation_node: slicer.vtkMRMLSegmentationNode | None,
        size: int,
    ) -> None:
        self.size = size
        self.window = _offscreen_window(size)  # first: fail before building anything
        self.scene = new_scene()
        self.volume = _copy_volume(self.scene, volume_node)
        self.segmentation = (
            _copy_segmentation(self.scene, segmentation_node) if segmentation_node else None
        )
        app = scene_logic(self.scene, "Application")

        self.renderer = vtk.vtkRenderer()
        self.window.AddRenderer(self.renderer)
        self.interactor = vtk.vtkRenderWindowInteractor()  # displayable managers need one
        self.interactor.SetRenderWindow(self.window)

        self.logic = slicer.vtkMRMLSliceLogic()
        self.logic.SetMRMLApplicationLogic(app)
        self.logic.SetMRMLScene(self.scene)
        self.slice_node = self.logic.AddSliceNode("ScarOverview")
        self.slice_node.SetDimensions(size, size, 1)
        self.logic.GetSliceCompositeNode().SetBackgroundVolumeID(self.volume.GetID())

        # The blended slice image (what Slicer's slice view shows under the overlays).
        mapper = vtk.vtkImageMapper()
        mapper.SetInputConnection(self.logic.GetImageDataConnection())
        mapper.SetColorWindow(255.0)
        mapper.SetColorLevel(127.5)
        image_actor = vtk.vtkActor2D()
        image_actor.SetMapper(mapper)
        self.renderer.AddViewProp(image_actor)

        # A private factory: the global slice-view factory belongs to Slicer's own views.
        factory = slicer.vtkMRMLDisplayableManagerFactory()
        factory.SetMRMLApplicationLogic(app)
        factory.RegisterDisplayableManager("vtkMRMLSegmentationsDisplayableManager2D")
        self.managers = factory.InstantiateDisplayableManagers(self.renderer)
        self.managers.SetMRMLDisplayableNode(self.slice_node)

        self.label = vtk.vtkTextActor()
        self.label.GetTextProperty().SetFontSize(max(10, size // 16))
        self.label.GetTextProperty().SetColor(1.0, 1.0, 1.0)
        self.label.SetPosition(4, 4)
        self.renderer.AddViewProp(self.label)
        self.ijk_to_ras = ijk_to_ras(self.volume)

    def render(self, k: int, centre_ij: tuple[float, float], fov_mm: float) -> np.ndarray:
        m = self.ijk_to_ras
        x = m[:3, 0] / np.linalg.norm(m[:3, 0])
        y = -m[:3, 1] / np.linalg.norm(m[:3, 1])  # j runs down the screen, as in the image array
        slice_to_ras = np.eye(4)
        slice_to_ras[:3, 0] = x
        slice_to_ras[:3, 1] = y
        slice_to_ras[:3, 2] = np.cross(x, y)
        slice_to_ras[:3, 3] = (m @ np.array([centre_ij[1], centre_ij[0], k, 1.0]))[:3]
        self.slice_node.GetSliceToRAS().DeepCopy(slice_to_ras.ravel().tolist())
        self.slice_node.SetFieldOfView(fov_mm, fov_mm, float(np.linalg.norm(m[:3, 2])))
        self.slice_node.UpdateMatrices()
        self.label.SetInput(f"k={k}")
        self.window.Render()
        grab = vtk.vtkWindowToImageFilter()
        grab.SetInput(self.window)
        grab.SetInputBufferTypeToRGB()
        grab.ReadFrontBufferOff()
        grab.Update()
        image = grab.GetOutput()
        w, h, _ = image.GetDimensions()
        pixels = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(h, w, 3)
        return pixels[::-1].copy()  # VTK rows run bottom-up

    def close(self) -> None:
        self.managers.SetMRMLDisplayableNode(None)
        self.logic.SetMRMLScene(None)
        self.window.Finalize()


def _load_triton_before_mesa() -> None:
    """Import triton (torch's compiler backend) before EGL loads Mesa, if it is installed.

    Mesa's drivers bring their own LLVM; importing triton after a Mesa context exists crashes
    the process (segfault in triton's native library, seen with torch 2.14 + Mesa here), and
    torchvision/ultralytics import triton lazily. Loaded first, both coexist.
    """
    try:  # only in the training environment: the runtime has no torch and no triton
        importlib.import_module("triton")
    except ImportError:
        pass


def _offscreen_window(size: int) -> vtk.vtkRenderWindow:
    _load_triton_before_mesa()
    window = vtk.vtkRenderWindow()
    kind = window.GetClassName()
    # VTK falls back to OSMesa when EGL cannot start, and then crashes on Render if libOSMesa is
    # absent; X works only with a display. Refuse instead of crashing.
    usable = (
        kind == "vtkEGLRenderWindow"
        or (kind == "vtkOSOpenGLRenderWindow" and ctypes.util.find_library("OSMesa") is not None)
        or (kind == "vtkXOpenGLRenderWindow" and bool(os.environ.get("DISPLAY")))
    )
    if not usable:
        raise RenderError(
            f"no offscreen OpenGL here (VTK chose {kind}); install Mesa EGL (libegl1) to get overview.png"
        )
    window.SetOffScreenRendering(1)
    window.SetSize(size, size)
    return window


def _framing(
    volume_node: slicer.vtkMRMLScalarVolumeNode,
    segmentation_node: slicer.vtkMRMLSegmentationNode | None,
    field_of_view_mm: float | None,
) -> tuple[tuple[float, float], float]:
    """(centre as (j, i) voxel coordinates, square field of view in mm)."""
    dims = volume_node.GetImageData().GetDimensions()
    spacing = np.linalg.norm(ijk_to_ras(volume_node)[:3, :2], axis=0)  # (i, j) mm
    full_fov = float(max(dims[0] * spacing[0], dims[1] * spacing[1]))
    centre = ((dims[1] - 1) / 2.0, (dims[0] - 1) / 2.0)
    union = None
    if segmentation_node is not None:
        masks = masks_from_segmentation_node(segmentation_node, volume_node)
        if masks:
            union = np.any(np.stack(list(masks.values())), axis=0).any(axis=0)  # (j, i)
    if union is not None and union.any():
        jj, ii = np.nonzero(union)
        centre = ((jj.min() + jj.max()) / 2.0, (ii.min() + ii.max()) / 2.0)
        extent = max((jj.max() - jj.min() + 1) * spacing[1], (ii.max() - ii.min() + 1) * spacing[0])
        auto_fov = min(full_fov, _MARGIN * extent + _PADDING_MM)
    else:
        auto_fov = full_fov
    return centre, float(field_of_view_mm or auto_fov)


def _copy_volume(
    scene: slicer.vtkMRMLScene, source: slicer.vtkMRMLScalarVolumeNode
) -> slicer.vtkMRMLScalarVolumeNode:
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", source.GetName())
    node.SetAndObserveImageData(source.GetImageData())  # shared, read only
    copy_geometry(source, node)
    node.CreateDefaultDisplayNodes()
    display, shown = node.GetDisplayNode(), source.GetDisplayNode()
    if shown is not None and not shown.GetAutoWindowLevel():  # keep a user's window/level
        display.AutoWindowLevelOff()
        display.SetWindowLevel(shown.GetWindow(), shown.GetLevel())
    return node


def _copy_segmentation(
    scene: slicer.vtkMRMLScene, source: slicer.vtkMRMLSegmentationNode
) -> slicer.vtkMRMLSegmentationNode:
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", source.GetName())
    node.GetSegmentation().DeepCopy(source.GetSegmentation())
    node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    display.SetVisibility2DFill(False)
    display.SetVisibility2DOutline(True)
    display.SetSliceIntersectionThickness(_OUTLINE_PX)
    display.SetOpacity2DOutline(1.0)
    return node
