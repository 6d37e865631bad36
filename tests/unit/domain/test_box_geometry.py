from __future__ import annotations

import random

import pytest

from engine.domain.box_geometry import (
    Box,
    MergedBox,
    TileAnnotation,
    intersection,
    iou,
    merge_boxes_across_tiles,
    tile_to_source,
)
from engine.domain.tiling import TileBox, plan_tiles

# 5000x3000 with defaults: columns start at 0, 795, 1590, 2385, 3180, 3976 and rows at
# 0, 658, 1317, 1976; every tile is 1024 square.
TILES = plan_tiles(5000, 3000)


def _tile_at(x: int, y: int) -> TileBox:
    return next(t for t in TILES if t.x == x and t.y == y)


def _draw(
    obj: Box, label: str = "car", jitter: float = 0.0, rng: random.Random | None = None
) -> list[TileAnnotation]:
    """What workers draw: the visible part of ``obj`` on every tile that shows some of it."""
    rng = rng or random.Random(0)
    drawn = []
    for tile in TILES:
        part = intersection(obj, Box.of_tile(tile))
        if part is None or part.w < 2 or part.h < 2:
            continue  # nobody draws a sub-2-px sliver; the neighbouring tile shows that part
        x1, y1 = part.x - tile.x, part.y - tile.y
        x2, y2 = part.x2 - tile.x, part.y2 - tile.y
        x1, y1, x2, y2 = (v + rng.uniform(-jitter, jitter) for v in (x1, y1, x2, y2))
        drawn.append(TileAnnotation(tile.seq, label, Box.from_corners(x1, y1, x2, y2)))
    return drawn


def _assert_close(actual: Box, expected: Box, tolerance: float = 1.0) -> None:
    for got, want in zip(
        (actual.x, actual.y, actual.x2, actual.y2),
        (expected.x, expected.y, expected.x2, expected.y2),
        strict=True,
    ):
        assert abs(got - want) <= tolerance, (actual, expected)


def test_iou() -> None:
    a = Box(0, 0, 10, 10)
    assert iou(a, a) == 1.0
    assert iou(a, Box(20, 20, 5, 5)) == 0.0
    assert iou(a, Box(10, 0, 10, 10)) == 0.0  # touching edges share no area
    assert iou(a, Box(5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou(Box(0, 0, 0, 0), Box(0, 0, 0, 0)) == 0.0


def test_box_rejects_negative_or_nan_size() -> None:
    with pytest.raises(ValueError):
        Box(0, 0, -1, 5)
    with pytest.raises(ValueError):
        Box(float("nan"), 0, 1, 1)


def test_tile_to_source_offsets_and_clips_to_the_tile() -> None:
    tile = TileBox(seq=3, x=795, y=658, w=1024, h=1024)
    assert tile_to_source(Box(10, 20, 30, 40), tile) == Box(805, 678, 30, 40)
    # A drag a little past the tile edge is clipped to the edge.
    assert tile_to_source(Box(1000, -5, 40, 25), tile) == Box(1795, 658, 24, 20)
    with pytest.raises(ValueError, match="outside tile 3"):
        tile_to_source(Box(1100, 10, 5, 5), tile)


def test_box_cut_by_a_tile_border_comes_back_as_one_source_box() -> None:
    # Crosses both borders of the 795..1024 overlap: tile 0 and tile 1 each see it cut.
    obj = Box.from_corners(600, 300, 1300, 520)
    drawn = _draw(obj, jitter=0.4)
    assert {a.tile_seq for a in drawn} == {_tile_at(0, 0).seq, _tile_at(795, 0).seq}

    merged = merge_boxes_across_tiles(drawn, TILES)

    assert len(merged) == 1
    assert merged[0].label == "car" and merged[0].members == (0, 1)
    _assert_close(merged[0].box, obj)


def test_duplicates_of_an_object_inside_the_overlap_merge() -> None:
    obj = Box.from_corners(850, 100, 950, 180)  # wholly inside the 795..1024 overlap
    drawn = _draw(obj, jitter=0.4)
    assert len(drawn) == 2

    merged = merge_boxes_across_tiles(drawn, TILES)

    assert len(merged) == 1
    _assert_close(merged[0].box, obj)


def test_object_on_a_tile_corner_seen_by_four_tiles_merges_once() -> None:
    obj = Box.from_corners(700, 600, 1150, 1100)
    drawn = _draw(obj, jitter=0.4)
    assert len(drawn) == 4

    merged = merge_boxes_across_tiles(drawn, TILES)

    assert len(merged) == 1 and sorted(merged[0].members) == [0, 1, 2, 3]
    _assert_close(merged[0].box, obj)


def test_long_object_across_three_tiles_merges_through_the_middle_tile() -> None:
    obj = Box.from_corners(300, 2200, 2200, 2400)
    drawn = _draw(obj, jitter=0.4)
    assert len({a.tile_seq for a in drawn}) >= 3

    merged = merge_boxes_across_tiles(drawn, TILES)

    assert len(merged) == 1
    _assert_close(merged[0].box, obj)


def test_two_nearby_objects_either_side_of_the_border_stay_apart() -> None:
    # One ends just inside the overlap, the other starts 10 px later; each tile shows parts of both.
    left, right = Box.from_corners(500, 300, 900, 500), Box.from_corners(910, 300, 1400, 500)
    drawn = _draw(left, jitter=0.4) + _draw(right, jitter=0.4, rng=random.Random(1))

    merged = merge_boxes_across_tiles(drawn, TILES)

    assert len(merged) == 2
    _assert_close(merged[0].box, left)
    _assert_close(merged[1].box, right)


def test_overlapping_distinct_objects_are_not_taken_for_one() -> None:
    # Tile 0 shows a box ending inside the overlap (not cut): had it been the object that runs on
    # into tile 1, the worker would have drawn it to the tile edge. Their parts in the overlap
    # still have IoU ~0.7, so IoU alone would merge them.
    tile0, tile1 = _tile_at(0, 0), _tile_at(795, 0)
    first = TileAnnotation(tile0.seq, "person", Box.from_corners(600, 100, 990, 400))
    second = TileAnnotation(tile1.seq, "person", Box.from_corners(5, 100, 600, 400))
    assert iou(Box.from_corners(795, 100, 990, 400), Box.from_corners(800, 100, 1024, 400)) > 0.7

    merged = merge_boxes_across_tiles([first, second], TILES)

    assert [m.members for m in merged] == [(0,), (1,)]


def test_different_labels_never_merge() -> None:
    obj = Box.from_corners(600, 300, 1300, 520)
    drawn = _draw(obj, label="car")
    drawn[1] = TileAnnotation(drawn[1].tile_seq, "truck", drawn[1].box)

    merged = merge_boxes_across_tiles(drawn, TILES)

    assert sorted(m.label for m in merged) == ["car", "truck"]


def test_boxes_on_the_same_tile_never_merge() -> None:
    tile = _tile_at(0, 0)
    same = [
        TileAnnotation(tile.seq, "car", Box(100, 100, 50, 50)),
        TileAnnotation(tile.seq, "car", Box(101, 101, 50, 50)),
    ]
    assert len(merge_boxes_across_tiles(same, TILES)) == 2


def test_many_separated_objects_each_come_back_once() -> None:
    rng = random.Random(42)
    objects: list[Box] = []
    while len(objects) < 60:
        w, h = rng.uniform(10, 700), rng.uniform(10, 700)
        candidate = Box(rng.uniform(0, 5000 - w), rng.uniform(0, 3000 - h), w, h)
        grown = Box(candidate.x - 15, candidate.y - 15, candidate.w + 30, candidate.h + 30)
        if all(intersection(grown, o) is None for o in objects):
            objects.append(candidate)
    drawn = [a for i, o in enumerate(objects) for a in _draw(o, jitter=0.4, rng=random.Random(i))]

    merged = merge_boxes_across_tiles(drawn, TILES)

    assert len(merged) == len(objects)
    for m in merged:
        best = max(objects, key=lambda o: iou(o, m.box))
        _assert_close(m.box, best)


def test_untiled_image_passes_boxes_through() -> None:
    tiles = plan_tiles(1200, 800)
    drawn = [
        TileAnnotation(0, "cat", Box(10, 10, 100, 100)),
        TileAnnotation(0, "cat", Box(20, 20, 100, 100)),
    ]
    assert merge_boxes_across_tiles(drawn, tiles) == [
        MergedBox("cat", Box(10, 10, 100, 100), (0,)),
        MergedBox("cat", Box(20, 20, 100, 100), (1,)),
    ]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown tiles"):
        merge_boxes_across_tiles([TileAnnotation(99, "x", Box(0, 0, 1, 1))], TILES)
    with pytest.raises(ValueError, match="iou_threshold"):
        merge_boxes_across_tiles([], TILES, iou_threshold=0)
