from __future__ import annotations

import json

import pytest

from engine.deliverables.dataset_formats import (
    ImageResult,
    LabeledBox,
    source_boxes_from_tiles,
    to_coco,
    to_label_studio_json,
    to_yolo,
)
from engine.domain.labeling_payload import answer_from_annotation
from engine.domain.tiling import TileBox

# Two 100x100 tiles side by side, overlapping by 20 px (x 80..100).
LEFT = TileBox(seq=0, x=0, y=0, w=100, h=100)
RIGHT = TileBox(seq=1, x=80, y=0, w=100, h=100)

PHOTO = ImageResult(
    "photos/street.jpg",
    200,
    100,
    boxes=(
        LabeledBox("cat", 50, 25, 100, 50, agreement=0.75),
        LabeledBox("dog", 0, 0, 20, 10),
        LabeledBox("dog", -10, 90, 30, 20),  # runs past the left and bottom edges
    ),
)
EMPTY = ImageResult("https://cdn.example.org/a/empty.v2.png?X-Sig=abc", 640, 480)


def test_a_box_crossing_a_tile_border_comes_back_as_one_source_box() -> None:
    # Object at x 50..150, y 10..40: the left tile shows 50..100, the right one 80..150.
    boxes = source_boxes_from_tiles(
        [
            (LEFT, [LabeledBox("car", 50, 10, 50, 30, agreement=0.8)]),
            (
                RIGHT,
                [
                    LabeledBox("car", 0, 10, 70, 30, agreement=0.6),
                    LabeledBox("car", 50, 50, 20, 20),
                ],
            ),
        ]
    )
    assert [(b.label, b.x, b.y, b.w, b.h) for b in boxes] == [
        ("car", 50, 10, 100, 30),
        ("car", 130, 50, 20, 20),  # right tile only: shifted by 80
    ]
    assert boxes[0].agreement == pytest.approx(0.7)  # mean of the two parts
    assert boxes[1].agreement is None


def test_boxes_of_different_labels_or_apart_stay_separate() -> None:
    boxes = source_boxes_from_tiles(
        [
            (LEFT, [LabeledBox("car", 50, 10, 50, 30)]),
            (RIGHT, [LabeledBox("bus", 0, 10, 70, 30)]),
        ]
    )
    assert [(b.label, b.x, b.w) for b in boxes] == [("car", 50, 50), ("bus", 80, 70)]
    assert source_boxes_from_tiles([]) == []
    assert source_boxes_from_tiles([(LEFT, [])]) == []


def test_tiles_sharing_a_seq_must_be_the_same_tile() -> None:
    with pytest.raises(ValueError, match="seq 0"):
        source_boxes_from_tiles([(LEFT, []), (TileBox(0, 5, 5, 10, 10), [])])


def test_yolo_lines_are_normalised_centres_and_sizes() -> None:
    files = to_yolo([PHOTO, EMPTY], ["dog", "cat"])
    assert files == {
        "classes.txt": "dog\ncat\n",
        "street.txt": (
            "1 0.500000 0.500000 0.500000 0.500000\n"
            "0 0.050000 0.050000 0.100000 0.100000\n"
            "0 0.050000 0.950000 0.100000 0.100000\n"  # clipped to (0, 90, 20, 10)
        ),
        "empty.v2.txt": "",
    }


def test_yolo_refuses_what_it_cannot_say() -> None:
    with pytest.raises(ValueError, match="classification"):
        to_yolo([ImageResult("a.jpg", 10, 10, label="cat")], ["cat"])
    with pytest.raises(ValueError, match="written twice"):
        to_yolo([ImageResult("x/a.jpg", 10, 10), ImageResult("y/a.png", 10, 10)], ["cat"])
    with pytest.raises(ValueError, match="written twice"):
        to_yolo([ImageResult("classes.jpg", 10, 10)], ["cat"])
    with pytest.raises(ValueError, match="not one of"):
        to_yolo([PHOTO], ["cat"])
    with pytest.raises(ValueError, match="distinct"):
        to_yolo([], ["cat", "cat"])


def test_coco_for_boxes() -> None:
    coco = to_coco([PHOTO, EMPTY], ["cat", "dog"])
    assert coco["images"] == [
        {"id": 1, "file_name": "photos/street.jpg", "width": 200, "height": 100},
        {"id": 2, "file_name": EMPTY.filename, "width": 640, "height": 480},
    ]
    assert coco["categories"] == [
        {"id": 1, "name": "cat", "supercategory": ""},
        {"id": 2, "name": "dog", "supercategory": ""},
    ]
    assert coco["annotations"] == [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "bbox": [50, 25, 100, 50],
            "area": 5000,
            "iscrowd": 0,
            "segmentation": [],
            "agreement": 0.75,
        },
        {
            "id": 2,
            "image_id": 1,
            "category_id": 2,
            "bbox": [0, 0, 20, 10],
            "area": 200,
            "iscrowd": 0,
            "segmentation": [],
        },
        {
            "id": 3,
            "image_id": 1,
            "category_id": 2,
            "bbox": [0, 90, 20, 10],
            "area": 200,
            "iscrowd": 0,
            "segmentation": [],
        },
    ]
    assert json.loads(json.dumps(coco)) == coco


def test_coco_for_classification_has_image_level_annotations() -> None:
    images = [
        ImageResult("a.jpg", 10, 20, label="dog", label_agreement=0.6),
        ImageResult("b.jpg", 10, 20),  # no final label: listed, not annotated
    ]
    coco = to_coco(images, ["cat", "dog"])
    assert coco["annotations"] == [{"id": 1, "image_id": 1, "category_id": 2, "agreement": 0.6}]
    assert len(coco["images"]) == 2


def test_label_studio_boxes_are_percentages_and_read_back_as_pixels() -> None:
    tasks = to_label_studio_json([PHOTO], "image_boxes", ["cat", "dog"])
    assert len(tasks) == 1
    assert tasks[0]["data"] == {"image": "photos/street.jpg"}
    result = tasks[0]["annotations"][0]["result"]
    assert result[0]["type"] == "rectanglelabels"
    assert (result[0]["original_width"], result[0]["original_height"]) == (200, 100)
    assert result[0]["value"] == {
        "x": 25.0,
        "y": 25.0,
        "width": 50.0,
        "height": 50.0,
        "rotation": 0,
        "rectanglelabels": ["cat"],
    }
    # The engine's own reader gets the source pixels back (the third box clipped).
    assert answer_from_annotation("image_boxes", result)["boxes"] == [
        {"label": "cat", "x": 50.0, "y": 25.0, "w": 100.0, "h": 50.0},
        {"label": "dog", "x": 0.0, "y": 0.0, "w": 20.0, "h": 10.0},
        {"label": "dog", "x": 0.0, "y": 90.0, "w": 20.0, "h": 10.0},
    ]


def test_label_studio_choices_for_classification() -> None:
    images = [ImageResult("https://x/a.jpg", 10, 10, label="cat"), ImageResult("b.jpg", 5, 5)]
    tasks = to_label_studio_json(images, "image_classification", ["cat", "dog"])
    assert tasks[0] == {
        "data": {"image": "https://x/a.jpg"},
        "annotations": [
            {
                "result": [
                    {
                        "from_name": "label",
                        "to_name": "image",
                        "type": "choices",
                        "value": {"choices": ["cat"]},
                    }
                ]
            }
        ],
    }
    assert tasks[1]["annotations"] == [{"result": []}]


def test_label_studio_refuses_mismatched_kinds_and_labels() -> None:
    with pytest.raises(ValueError):
        to_label_studio_json([PHOTO], "image_classification", ["cat", "dog"])
    with pytest.raises(ValueError):
        to_label_studio_json([ImageResult("a.jpg", 9, 9, label="cat")], "image_boxes", ["cat"])
    with pytest.raises(ValueError):
        to_label_studio_json([PHOTO], "image_boxes", ["cat"])
    with pytest.raises(ValueError):
        to_label_studio_json([], "transcription", [])


def test_image_results_refuse_impossible_input() -> None:
    with pytest.raises(ValueError, match="not both"):
        ImageResult("a.jpg", 10, 10, label="cat", boxes=(LabeledBox("cat", 0, 0, 1, 1),))
    with pytest.raises(ValueError, match="outside"):
        ImageResult("a.jpg", 10, 10, boxes=(LabeledBox("cat", 20, 0, 5, 5),))
    with pytest.raises(ValueError):
        ImageResult("a.jpg", 0, 10)
    with pytest.raises(ValueError):
        LabeledBox("cat", 0, 0, 0, 5)
    assert LabeledBox.from_json({"label": "cat", "x": 1, "y": 2, "w": 3, "h": 4}) == LabeledBox(
        "cat", 1, 2, 3, 4
    )
