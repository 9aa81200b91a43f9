"""write_outputs with the scar detector's boxes: scar_boxes.tsv + schema, and a node in the .mrb."""

from __future__ import annotations

import csv

import pytest
from ScarSegmentationLib.mrml_io import read_mrb
from ScarSegmentationLib.outputs import write_outputs
from ScarSegmentationLib.pipeline import PipelineResult
from ScarSegmentationLib.stages.scar_detect import boxes_table


def _result(study, masks, boxes) -> PipelineResult:
    return PipelineResult(
        study=study,
        masks=masks,
        maps={},
        tables={"scar_boxes": boxes_table(boxes, study)},
        slice_info={},
        boxes=boxes,
        notes=[],
        stages=["scar_detect"],
        seconds={"total": 0.0},
        peak_memory_mb=0.0,
    )


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.mark.parametrize("n_boxes", [2, 0])
def test_scar_boxes_table_is_written_and_in_the_scene(study, masks, tmp_path, n_boxes):
    boxes = [
        {"k": 3, "score": 0.8, "i0": 30.5, "j0": 10.0, "i1": 38.5, "j1": 20.0},
        {"k": 2, "score": 0.4, "i0": 31.0, "j0": 12.5, "i1": 36.0, "j1": 19.0},
    ][:n_boxes]
    out = write_outputs(_result(study, masks, boxes), tmp_path / "out", overview=False)

    rows = _rows(out / "scar_boxes.tsv")
    assert len(rows) == n_boxes
    assert sorted((int(r["slice_index"]), float(r["score"])) for r in rows) == sorted(
        (b["k"], b["score"]) for b in boxes
    )
    if boxes:
        assert {float(r["i_max"]) for r in rows} == {b["i1"] for b in boxes}
    schema = {r["columnName"]: r for r in _rows(out / "scar_boxes.schema.tsv")}
    assert schema["center_l"]["unitLabel"] == "mm" and schema["i_min"]["unitLabel"] == "px"
    assert "confidence" in schema["score"]["description"]

    scene = read_mrb(out / "scene.mrb")
    names = [n.GetName() for n in scene.GetNodesByClass("vtkMRMLTableNode")]
    (node,) = [scene.GetFirstNodeByName(n) for n in names if n.endswith("scar_boxes")]
    assert node.GetNumberOfRows() == n_boxes
    assert node.GetColumnUnitLabel("center_s") == "mm"
