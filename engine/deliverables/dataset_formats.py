"""Labeled-image deliverables: COCO, YOLO and Label Studio JSON (pure, JSON-ready values).

Input is one :class:`ImageResult` per source image: its file name (or URL) as the client should
see it, its size in pixels (EXIF orientation applied: the frame tiles and boxes use), and its
final labels: a class ``label`` (classification jobs) or ``boxes`` in source pixels (box jobs).
Boxes are clipped to the image in every format.

Formats:

* COCO (``to_coco``): ``images``, ``annotations`` and ``categories`` with ids from 1, in the
  order given. Box annotations carry ``bbox`` ``[x, y, w, h]``, ``area``, ``iscrowd`` 0 and an
  empty ``segmentation``. COCO has no standard for classification; the common practice followed
  here is an image-level annotation ``{"id", "image_id", "category_id"}`` with no ``bbox``/
  ``area``, which detection loaders skip. Consensus ``agreement`` rides along as an extra key.
* YOLO (``to_yolo``): ``<stem>.txt`` per image (empty when it has no boxes) with lines
  ``class cx cy w h`` normalised to [0, 1] with 6 decimals, and ``classes.txt``. YOLO's label
  files are for boxes only: classification results are refused (its classification layout is
  image folders per class, which a text builder cannot make). ``yolo_data_yaml`` is the
  dataset file Ultralytics trains from: ``nc``, ``names`` and ``train``/``val`` paths relative to
  the YAML's own folder, where the label files sit beside the images (when delivered).
* Label Studio (``to_label_studio_json``): one task per image, ``data.image`` = the file name or
  URL, ``annotations: [{"result": [...]}]`` with ``rectanglelabels`` in percent of
  ``original_width``/``original_height``, or ``choices``; control names as in
  ``configs/labeling/*.xml``, so the file imports into a project made from those configs.

``source_boxes_from_tiles`` turns per-tile results of a tiled image into source boxes first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from engine.domain.box_geometry import Box, TileAnnotation, merge_boxes_across_tiles
from engine.domain.job_stage import JobKind
from engine.domain.labeling_payload import IMAGE_TO, annotation_result_from_answer
from engine.domain.tiling import TileBox

YOLO_CLASSES_FILE = "classes.txt"
YOLO_DATA_FILE = "data.yaml"
_COCO_DECIMALS = 2  # hundredths of a pixel, as the engine stores boxes


@dataclass(frozen=True, slots=True)
class LabeledBox:
    """A labeled box ``x, y, w, h`` in pixels (of the source image or of one tile: the container
    says which); ``agreement`` is the consensus support in [0, 1] when known."""

    label: str
    x: float
    y: float
    w: float
    h: float
    agreement: float | None = None

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("a box needs a label")
        if not all(math.isfinite(v) for v in (self.x, self.y, self.w, self.h)):
            raise ValueError(f"box coordinates must be finite: {self}")
        if self.w <= 0 or self.h <= 0:
            raise ValueError(f"box width and height must be > 0: {self}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LabeledBox:
        """From ``{"label", "x", "y", "w", "h", "agreement"?}``."""
        agreement = data.get("agreement")
        return cls(
            label=str(data["label"]),
            x=float(data["x"]),
            y=float(data["y"]),
            w=float(data["w"]),
            h=float(data["h"]),
            agreement=None if agreement is None else float(agreement),
        )


@dataclass(frozen=True, slots=True)
class ImageResult:
    """Final labels of one source image: a class ``label`` or ``boxes`` in source pixels."""

    filename: str
    width: int
    height: int
    label: str | None = None
    boxes: tuple[LabeledBox, ...] = ()
    label_agreement: float | None = None

    def __post_init__(self) -> None:
        if not self.filename:
            raise ValueError("an image needs a file name or URL")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"{self.filename}: image size must be positive")
        if self.label is not None and self.boxes:
            raise ValueError(f"{self.filename}: give a class label or boxes, not both")
        for box in self.boxes:
            if _clipped(box, self.width, self.height) is None:
                raise ValueError(f"{self.filename}: box {box} lies outside the image")


def source_boxes_from_tiles(
    tile_results: Sequence[tuple[TileBox, Sequence[LabeledBox]]],
) -> list[LabeledBox]:
    """Boxes of a tiled image in source pixels, from each tile's boxes in that tile's pixels.

    Every box is mapped to the source (and clipped to its tile); boxes of one object cut by tile
    borders are merged into one (:func:`merge_boxes_across_tiles`). A merged box's agreement is
    the mean of its parts' known agreements.
    """
    tiles: dict[int, TileBox] = {}
    annotations: list[TileAnnotation] = []
    agreements: list[float | None] = []
    for tile, boxes in tile_results:
        if tiles.setdefault(tile.seq, tile) != tile:
            raise ValueError(f"two different tiles share seq {tile.seq}")
        for box in boxes:
            annotations.append(TileAnnotation(tile.seq, box.label, Box(box.x, box.y, box.w, box.h)))
            agreements.append(box.agreement)
    merged = merge_boxes_across_tiles(annotations, list(tiles.values()))
    result: list[LabeledBox] = []
    for item in merged:
        known = [a for m in item.members if (a := agreements[m]) is not None]
        result.append(
            LabeledBox(
                label=item.label,
                x=item.box.x,
                y=item.box.y,
                w=item.box.w,
                h=item.box.h,
                agreement=sum(known) / len(known) if known else None,
            )
        )
    return result


def to_coco(images: Sequence[ImageResult], categories: Sequence[str]) -> dict[str, Any]:
    """A COCO dataset; category ids follow ``categories`` from 1 (see the module docstring)."""
    category_ids = _label_index(categories, start=1)
    coco_images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, image in enumerate(images, start=1):
        coco_images.append(
            {
                "id": image_id,
                "file_name": image.filename,
                "width": image.width,
                "height": image.height,
            }
        )
        if image.label is not None:
            annotation: dict[str, Any] = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": _known(category_ids, image.label, image.filename),
            }
            if image.label_agreement is not None:
                annotation["agreement"] = image.label_agreement
            annotations.append(annotation)
        for box in image.boxes:
            x, y, w, h = (
                round(v, _COCO_DECIMALS) for v in _clipped_or_fail(box, image.width, image.height)
            )
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": _known(category_ids, box.label, image.filename),
                "bbox": [x, y, w, h],
                "area": round(w * h, _COCO_DECIMALS),
                "iscrowd": 0,
                "segmentation": [],
            }
            if box.agreement is not None:
                annotation["agreement"] = box.agreement
            annotations.append(annotation)
    return {
        "images": coco_images,
        "annotations": annotations,
        "categories": [
            {"id": category_id, "name": name, "supercategory": ""}
            for name, category_id in category_ids.items()
        ],
    }


def to_yolo(images: Sequence[ImageResult], labels: Sequence[str]) -> dict[str, str]:
    """YOLO label files by name: ``<stem>.txt`` per image and ``classes.txt``; class numbers
    follow ``labels`` from 0."""
    class_ids = _label_index(labels, start=0)
    files: dict[str, str] = {YOLO_CLASSES_FILE: "".join(f"{label}\n" for label in class_ids)}
    for image in images:
        if image.label is not None:
            raise ValueError(
                f"{image.filename}: YOLO label files hold boxes; classification results have "
                "no YOLO text format"
            )
        name = _stem(image.filename) + ".txt"
        if name in files:
            raise ValueError(f"{image.filename}: YOLO file {name!r} would be written twice")
        lines = []
        for box in image.boxes:
            x, y, w, h = _clipped_or_fail(box, image.width, image.height)
            cx, cy = (x + w / 2) / image.width, (y + h / 2) / image.height
            nw, nh = w / image.width, h / image.height
            class_id = _known(class_ids, box.label, image.filename)
            lines.append(f"{class_id} {cx:.6f} {cy:.6f} {nw:.6f} {nh:.6f}\n")
        files[name] = "".join(lines)
    return files


def yolo_data_yaml(labels: Sequence[str], images_dir: str = ".") -> str:
    """A YOLO ``data.yaml``: the classes (numbered as in ``to_yolo``) and where the images are,
    relative to the YAML file (no ``path`` key: Ultralytics then resolves from the file's folder).
    """
    class_ids = _label_index(labels, start=0)
    # JSON strings are valid YAML double-quoted scalars: labels need no YAML escaping rules.
    names = "".join(f"  {number}: {json.dumps(label)}\n" for label, number in class_ids.items())
    folder = json.dumps(images_dir)
    return (
        "# YOLO dataset: each image's label file sits beside it, <image stem>.txt\n"
        f"train: {folder}\nval: {folder}\nnc: {len(class_ids)}\nnames:\n{names}"
    )


def to_label_studio_json(
    images: Sequence[ImageResult], kind: JobKind | str, labels: Sequence[str]
) -> list[dict[str, Any]]:
    """Label Studio tasks with one annotation each (``kind``: image_classification or
    image_boxes); every label must be one of ``labels``."""
    job_kind = JobKind(kind)
    if job_kind is JobKind.TRANSCRIPTION:
        raise ValueError("to_label_studio_json builds image tasks; transcripts have their own")
    known = _label_index(labels, start=0)
    tasks: list[dict[str, Any]] = []
    for image in images:
        if job_kind is JobKind.IMAGE_CLASSIFICATION:
            if image.boxes:
                raise ValueError(f"{image.filename}: boxes in a classification export")
            if image.label is None:
                result: list[dict[str, Any]] = []  # unlabeled: an empty annotation
            else:
                _known(known, image.label, image.filename)
                result = annotation_result_from_answer(job_kind, {"label": image.label})
        else:
            if image.label is not None:
                raise ValueError(f"{image.filename}: a class label in a boxes export")
            boxes = []
            for box in image.boxes:
                _known(known, box.label, image.filename)
                x, y, w, h = _clipped_or_fail(box, image.width, image.height)
                boxes.append({"label": box.label, "x": x, "y": y, "w": w, "h": h})
            result = annotation_result_from_answer(
                job_kind, {"boxes": boxes}, (image.width, image.height)
            )
        tasks.append({"data": {IMAGE_TO: image.filename}, "annotations": [{"result": result}]})
    return tasks


def _label_index(labels: Sequence[str], *, start: int) -> dict[str, int]:
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must be distinct: {list(labels)}")
    if any(not label or "\n" in label for label in labels):
        raise ValueError(f"labels must be non-empty single lines: {list(labels)}")
    return {label: number for number, label in enumerate(labels, start=start)}


def _known(index: Mapping[str, int], label: str, filename: str) -> int:
    if label not in index:
        raise ValueError(f"{filename}: label {label!r} is not one of {list(index)}")
    return index[label]


def _clipped(box: LabeledBox, width: int, height: int) -> tuple[float, float, float, float] | None:
    x1, y1 = max(box.x, 0.0), max(box.y, 0.0)
    x2, y2 = min(box.x + box.w, float(width)), min(box.y + box.h, float(height))
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2 - x1, y2 - y1


def _clipped_or_fail(box: LabeledBox, width: int, height: int) -> tuple[float, float, float, float]:
    clipped = _clipped(box, width, height)
    if clipped is None:  # ImageResult refuses these; kept for a clear error all the same
        raise ValueError(f"box {box} lies outside the {width}x{height} image")
    return clipped


def _stem(filename: str) -> str:
    """File stem of a name or URL: ``photos/cat.01.jpg`` and ``https://h/x/cat.01.jpg?sig`` ->
    ``cat.01``."""
    path = unquote(urlsplit(filename).path) if "://" in filename else filename
    stem = PurePosixPath(path.replace("\\", "/")).stem
    if not stem:
        raise ValueError(f"no file name in {filename!r}")
    return stem
