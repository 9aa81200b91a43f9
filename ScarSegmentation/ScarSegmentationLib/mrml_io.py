"""Writing and reading through MRML storage nodes: .seg.nrrd, .tsv (+ .schema.tsv), volumes, .mrb."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import slicer
from ScarQuantificationLib.mrml_tables import tsv_problems

from .errors import ScarSegError
from .mrml_scene import new_scene


class StorageError(ScarSegError):
    """A storage node could not write or read a file."""


def write_segmentation(node: slicer.vtkMRMLSegmentationNode, path: str | Path) -> Path:
    """Write a segmentation to `.seg.nrrd` (all segments, names, colours, reference geometry)."""
    path = Path(path)
    if not path.name.endswith(".seg.nrrd"):
        raise ValueError(f"{path}: a segmentation is written as .seg.nrrd")
    return _write(node, path, compress=True)


def write_table(node: slicer.vtkMRMLTableNode, path: str | Path) -> Path:
    """Write a table to `.tsv`; the storage node also writes `<name>.schema.tsv` (types, units)."""
    path = Path(path)
    if path.suffix != ".tsv":
        raise ValueError(f"{path}: a table is written as .tsv")
    problems = tsv_problems(node)
    if problems:
        raise StorageError(
            f"table {node.GetName()!r} cannot be written to {path.name}: {'; '.join(problems)}"
        )
    _write(node, path)
    schema = path.with_name(path.name[: -len(".tsv")] + ".schema.tsv")
    if not schema.is_file():
        raise StorageError(f"table {node.GetName()!r}: {schema.name} was not written")
    return path


def write_volume(node: slicer.vtkMRMLVolumeNode, path: str | Path, compress: bool = True) -> Path:
    """Write a volume with its geometry (.nrrd, .nii.gz, .nii, .mha... as the archetype writer allows)."""
    return _write(node, Path(path), compress=compress)


def write_mrb(scene: slicer.vtkMRMLScene, path: str | Path) -> Path:
    """Write the whole scene as a Slicer data bundle (.mrb) that opens in Slicer.

    WriteToMRB saves every storable node through its storage node (adding default ones) into
    the bundle's Data/ folder and restores the nodes' own file names afterwards.
    """
    path = Path(path).absolute()  # the scene refuses a relative bundle directory
    if path.suffix != ".mrb":
        raise ValueError(f"{path}: a scene bundle is written as .mrb")
    for node in _nodes(scene, "vtkMRMLTableNode"):
        problems = tsv_problems(node)
        if problems:
            raise StorageError(
                f"table {node.GetName()!r} cannot go into {path.name}: {'; '.join(problems)}"
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"could not write {path}: {exc}") from exc
    messages = slicer.vtkMRMLMessageCollection()
    cwd = os.getcwd()
    try:
        ok = scene.WriteToMRB(str(path), None, messages)
    finally:
        os.chdir(cwd)  # as for ReadFromMRB: never leave the process in a bundle folder
    if not ok or not path.is_file():
        raise StorageError(
            f"could not write {path}: {_text(messages) or 'the scene writer reported failure'}"
        )
    return path


def read_mrb(path: str | Path) -> slicer.vtkMRMLScene:
    """A new scene (built by new_scene) holding the contents of a .mrb bundle."""
    path = Path(path)
    if not path.is_file():
        raise StorageError(f"{path} does not exist")
    scene = new_scene()
    messages = slicer.vtkMRMLMessageCollection()
    # ReadFromMRB unpacks into the data IO manager's cache directory; all data is in memory once
    # read, so a temporary cache that is removed afterwards leaves nothing behind.
    with tempfile.TemporaryDirectory(prefix="scarseg-mrb-") as cache_dir:
        cache = slicer.vtkCacheManager()
        cache.SetRemoteCacheDirectory(cache_dir)
        io_manager = slicer.vtkDataIOManager()
        io_manager.SetCacheManager(cache)
        scene.SetCacheManager(cache)
        scene.SetDataIOManager(io_manager)
        cwd = os.getcwd()
        try:
            ok = scene.ReadFromMRB(str(path), False, messages)
        finally:
            os.chdir(cwd)  # ReadFromMRB changes directory and does not change back on failure
            scene.SetDataIOManager(None)
            scene.SetCacheManager(None)
    if not ok:
        raise StorageError(
            f"could not read {path}: {_text(messages) or 'the scene reader reported failure'}"
        )
    return scene


def read_segmentation(
    scene: slicer.vtkMRMLScene, path: str | Path, name: str | None = None
) -> slicer.vtkMRMLSegmentationNode:
    """A new segmentation node in `scene` holding a .seg.nrrd file (segments, names, tags)."""
    return _read(scene, path, "vtkMRMLSegmentationNode", "vtkMRMLSegmentationStorageNode", name)


def read_table(
    scene: slicer.vtkMRMLScene, path: str | Path, name: str | None = None
) -> slicer.vtkMRMLTableNode:
    """A new table node in `scene` holding a .tsv file (and its .schema.tsv: types, units)."""
    return _read(scene, path, "vtkMRMLTableNode", "vtkMRMLTableStorageNode", name)


def read_volume(
    scene: slicer.vtkMRMLScene, path: str | Path, name: str | None = None
) -> slicer.vtkMRMLScalarVolumeNode:
    """A new scalar volume node in `scene` holding an image file (.nrrd, .nii.gz...) with geometry."""
    return _read(scene, path, "vtkMRMLScalarVolumeNode", "vtkMRMLVolumeArchetypeStorageNode", name)


def _read(
    scene: slicer.vtkMRMLScene,
    path: str | Path,
    node_class: str,
    storage_class: str,
    name: str | None,
) -> slicer.vtkMRMLStorableNode:
    path = Path(path)
    if not path.is_file():
        raise StorageError(f"{path} does not exist")
    node = scene.AddNewNodeByClass(node_class, name or path.name.split(".")[0])
    storage = scene.AddNewNodeByClass(storage_class)
    storage.SetFileName(str(path))
    node.SetAndObserveStorageNodeID(storage.GetID())
    storage.GetUserMessages().ClearMessages()
    if not storage.ReadData(node):
        details = _text(storage.GetUserMessages()) or "the storage node reported failure"
        scene.RemoveNode(node)
        scene.RemoveNode(storage)
        raise StorageError(f"could not read {path}: {details}")
    return node


def _write(node: slicer.vtkMRMLStorableNode, path: Path, compress: bool = True) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"could not write {node.GetName()!r} to {path}: {exc}") from exc
    before = set(path.parent.iterdir())
    storage = node.GetStorageNode()
    if storage is None:
        if node.GetScene() is None:
            raise StorageError(f"node {node.GetName()!r} is not in a scene and has no storage node")
        node.AddDefaultStorageNode()
        storage = node.GetStorageNode()
    if storage is None:
        raise StorageError(
            f"node {node.GetName()!r} ({node.GetClassName()}) has no storage node type"
        )
    storage.SetFileName(str(path))
    storage.SetUseCompression(bool(compress))
    storage.GetUserMessages().ClearMessages()
    if not storage.WriteData(node) or not path.is_file():
        details = _text(storage.GetUserMessages()) or "the storage node reported failure"
        _remove_empty_new_dirs(path.parent, before)
        raise StorageError(f"could not write {node.GetName()!r} to {path}: {details}")
    return path


def _remove_empty_new_dirs(folder: Path, before: set[Path]) -> None:
    """The volume writer leaves an empty TempWrite<name> folder behind when it fails."""
    for entry in set(folder.iterdir()) - before:
        if entry.is_dir() and entry.name.startswith("TempWrite") and not any(entry.iterdir()):
            entry.rmdir()


def _nodes(scene: slicer.vtkMRMLScene, class_name: str) -> list[slicer.vtkMRMLNode]:
    collection = scene.GetNodesByClass(class_name)
    return [collection.GetItemAsObject(i) for i in range(collection.GetNumberOfItems())]


def _text(messages: slicer.vtkMRMLMessageCollection) -> str:
    return messages.GetAllMessagesAsString().strip() if messages is not None else ""
