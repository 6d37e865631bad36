"""Labeled-image deliverables from final results, tiles mapped back to source pixels."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from engine.db.models import SourceMediaRow, TaskResultRow, TaskRow
from engine.deliverables.dataset_formats import (
    ImageResult,
    LabeledBox,
    source_boxes_from_tiles,
    to_coco,
    to_label_studio_json,
    to_yolo,
)
from engine.domain.job_stage import JobKind
from engine.domain.tiling import TileBox


def image_result(
    kind: JobKind,
    source: SourceMediaRow,
    tasks: Sequence[TaskRow],
    results: Mapping[str, TaskResultRow],
) -> ImageResult | None:
    finals = [(t, results[t.id]) for t in tasks if t.id in results and results[t.id].final]
    if not finals:
        return None
    width, height = source.width or 0, source.height or 0
    if kind is JobKind.IMAGE_CLASSIFICATION:
        # A tiled image's label: the tiles' labels weighed by their agreement.
        votes: dict[str, float] = {}
        for _, r in finals:
            label = str(r.final["label"])  # type: ignore[index]
            votes[label] = votes.get(label, 0.0) + r.agreement
        label = max(sorted(votes), key=lambda k: votes[k])
        return ImageResult(source.filename, width, height, label=label,
                           label_agreement=votes[label] / sum(votes.values()))  # fmt: skip
    per_tile = []
    for task, r in finals:
        agreements = {
            (b["x"], b["y"], b["w"], b["h"]): b.get("agreement")
            for b in (r.detail or {}).get("boxes", [])
        }
        boxes = [
            LabeledBox(
                b["label"],
                b["x"],
                b["y"],
                b["w"],
                b["h"],
                agreements.get((b["x"], b["y"], b["w"], b["h"])),
            )  # fmt: skip
            for b in r.final.get("boxes", [])  # type: ignore[union-attr]
        ]
        tile = TileBox(task.seq, int(task.box_x or 0), int(task.box_y or 0),
                       int(task.box_w or width), int(task.box_h or height))  # fmt: skip
        per_tile.append((tile, boxes))
    return ImageResult(
        source.filename, width, height, boxes=tuple(source_boxes_from_tiles(per_tile))
    )


def dataset_files(
    kind: JobKind, images: Sequence[ImageResult], labels: Sequence[str]
) -> dict[str, tuple[bytes, str]]:
    files: dict[str, tuple[bytes, str]] = {
        "dataset.coco.json": (json.dumps(to_coco(images, labels)).encode(), "application/json"),
        "dataset.label-studio.json": (
            json.dumps(to_label_studio_json(images, kind, labels)).encode(),
            "application/json",
        ),
    }
    if kind is JobKind.IMAGE_BOXES:
        for name, text in to_yolo(images, labels).items():
            files[f"yolo/{name}"] = (text.encode(), "text/plain; charset=utf-8")
    else:
        lines = "".join(f"{i.filename},{i.label}\n" for i in images)
        files["labels.csv"] = (("filename,label\n" + lines).encode(), "text/csv")
    return files
