"""MRML glue on slicer-core (no Qt, no slicer.app): the one import for scenes, nodes and files.

Split by purpose: mrml_scene (scene, logics, subject hierarchy), mrml_volumes (volume nodes <->
Study/arrays), mrml_segments (segmentation nodes <-> masks), mrml_tables (Table <-> table nodes),
mrml_io (storage-node writers, .mrb). Rendering is in render.py. What the quantification module
needs too lives in ScarQuantificationLib (mrml_tables, mrml_segments, mrml_volumes' reading side)
and is re-exported here.
"""

from ScarQuantificationLib.mrml_tables import (
    table_from_table_node,
    table_node_from_table,
    tsv_problems,
)

from .mrml_io import (
    StorageError,
    read_mrb,
    read_segmentation,
    read_table,
    read_volume,
    write_mrb,
    write_segmentation,
    write_table,
    write_volume,
)
from .mrml_scene import new_scene, place_in_subject_hierarchy, place_with_volume, scene_logic
from .mrml_segments import masks_from_segmentation_node, segmentation_node_from_masks
from .mrml_volumes import (
    array_from_volume_node,
    copy_geometry,
    ijk_to_ras,
    ijk_to_ras_from_study,
    scalar_map_node,
    set_map_display,
    study_from_volume_node,
    volume_node_from_study,
)

__all__ = [
    "StorageError",
    "array_from_volume_node",
    "ijk_to_ras",
    "copy_geometry",
    "ijk_to_ras_from_study",
    "masks_from_segmentation_node",
    "new_scene",
    "place_in_subject_hierarchy",
    "place_with_volume",
    "read_mrb",
    "read_segmentation",
    "read_table",
    "read_volume",
    "scalar_map_node",
    "scene_logic",
    "segmentation_node_from_masks",
    "set_map_display",
    "study_from_volume_node",
    "table_from_table_node",
    "table_node_from_table",
    "tsv_problems",
    "volume_node_from_study",
    "write_mrb",
    "write_segmentation",
    "write_table",
    "write_volume",
]
