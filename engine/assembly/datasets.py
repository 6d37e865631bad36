"""Labeled-image deliverables from final results, tiles mapped back to source pixels."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, cast

from engine.db.models import SourceMediaRow, TaskResultRow, TaskRow
from engine.deliverables.dataset_formats import (
    YOLO_DATA_FILE,
    ImageResult,
    LabeledBox,
    source_boxes_from_tiles,
    to_coco,
    to_label_studio_json,
    to_yolo,
    yolo_data_yaml,
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


def gold_image_result(
    kind: JobKind, source: SourceMediaRow, answer: Mapping[str, object]
) -> ImageResult:
    """A gold image with its known answer (raises ValueError when it does not fit the image)."""
    width, height = source.width or 0, source.height or 0
    if kind is JobKind.IMAGE_CLASSIFICATION:
        return ImageResult(source.filename, width, height, label=str(answer["label"]))
    boxes = cast(Sequence[Mapping[str, Any]], answer.get("boxes") or [])
    return ImageResult(
        source.filename, width, height, boxes=tuple(LabeledBox.from_json(b) for b in boxes)
    )


def images_folder(kind: JobKind) -> str:
    """Where delivered source images go: beside the YOLO label files for box jobs (the layout
    data.yaml names), in ``images/`` otherwise."""
    return "yolo" if kind is JobKind.IMAGE_BOXES else "images"


def image_copies(
    kind: JobKind, sources: Sequence[SourceMediaRow], prefix: str = ""
) -> dict[str, tuple[str, str]]:
    """The source images to deliver by name: (object key, content type) each."""
    copies: dict[str, tuple[str, str]] = {}
    for source in sources:
        name = f"{prefix}{images_folder(kind)}/{PurePosixPath(source.filename).name}"
        if name in copies:  # two sources called alike in different folders
            name = f"{prefix}{images_folder(kind)}/{source.seq}-{PurePosixPath(name).name}"
        copies[name] = (source.object_key, source.content_type)
    return copies


def dataset_files(
    kind: JobKind, images: Sequence[ImageResult], labels: Sequence[str], prefix: str = ""
) -> dict[str, tuple[bytes, str]]:
    """The dataset files by name (each under ``prefix``, e.g. ``gold/``)."""
    files: dict[str, tuple[bytes, str]] = {
        f"{prefix}dataset.coco.json": (
            json.dumps(to_coco(images, labels)).encode(),
            "application/json",
        ),
        f"{prefix}dataset.label-studio.json": (
            json.dumps(to_label_studio_json(images, kind, labels)).encode(),
            "application/json",
        ),
    }
    if kind is JobKind.IMAGE_BOXES:
        for name, text in to_yolo(images, labels).items():
            files[f"{prefix}yolo/{name}"] = (text.encode(), "text/plain; charset=utf-8")
        files[f"{prefix}yolo/{YOLO_DATA_FILE}"] = (
            yolo_data_yaml(labels).encode(),
            "application/yaml",
        )
    else:
        lines = "".join(f"{i.filename},{i.label}\n" for i in images)
        files[f"{prefix}labels.csv"] = (("filename,label\n" + lines).encode(), "text/csv")
    return files
