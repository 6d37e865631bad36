from __future__ import annotations

import random

import numpy as np
import pytest

from engine.domain.tiling import TileBox, plan_tiles


def _random_cases(count: int, seed: int) -> list[tuple[int, int, int, int, int]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        tile = rng.randint(16, 1500)
        overlap = rng.randint(0, tile - 1)
        # Up to ~30 tiles per axis keeps the checks fast whatever the stride.
        limit = tile + 30 * (tile - overlap)
        width, height = rng.randint(1, limit), rng.randint(1, limit)
        threshold = rng.randint(1, max(width, height) * 5 // 4)
        cases.append((width, height, threshold, tile, overlap))
    # Edges: at and just past the threshold, thin strips, overlap one below tile.
    cases += [
        (2048, 2048, 2048, 1024, 128),
        (2049, 10, 2048, 1024, 128),
        (10, 2049, 2048, 1024, 128),
        (5000, 3000, 2048, 1024, 128),
        (100_000, 3, 2048, 1024, 128),
        (260, 180, 1, 100, 97),
        (1025, 1025, 1, 1024, 0),
    ]
    return cases


CASES = _random_cases(400, seed=20240611)


def _assert_covers_exactly(tiles: list[TileBox], width: int, height: int) -> None:
    # Coordinate compression: every cell between consecutive tile edges must lie in some tile.
    xs = sorted({0, width, *(t.x for t in tiles), *(t.x2 for t in tiles)})
    ys = sorted({0, height, *(t.y for t in tiles), *(t.y2 for t in tiles)})
    x_index = {x: i for i, x in enumerate(xs)}
    y_index = {y: i for i, y in enumerate(ys)}
    covered = np.zeros((len(ys) - 1, len(xs) - 1), dtype=bool)
    for t in tiles:
        covered[y_index[t.y] : y_index[t.y2], x_index[t.x] : x_index[t.x2]] = True
    assert covered.all(), f"{width}x{height}: {np.argwhere(~covered)[:5]} not covered"


@pytest.mark.parametrize(("width", "height", "threshold", "tile", "overlap"), CASES)
def test_tiles_cover_image_stay_inside_and_respect_sizes(
    width: int, height: int, threshold: int, tile: int, overlap: int
) -> None:
    tiles = plan_tiles(width, height, threshold_px=threshold, tile_px=tile, overlap_px=overlap)

    assert [t.seq for t in tiles] == list(range(len(tiles)))
    for t in tiles:
        assert t.x >= 0 and t.y >= 0 and t.x2 <= width and t.y2 <= height
        assert t.w > 0 and t.h > 0
    if max(width, height) <= threshold:
        assert tiles == [TileBox(0, 0, 0, width, height)]
        return
    for t in tiles:
        assert t.w <= tile and t.h <= tile
    _assert_covers_exactly(tiles, width, height)
    # The last row/column ends at the edge: no padding past it, none short of it.
    assert max(t.x2 for t in tiles) == width and max(t.y2 for t in tiles) == height


@pytest.mark.parametrize(("width", "height", "threshold", "tile", "overlap"), CASES)
def test_neighbours_overlap_by_at_least_the_configured_amount(
    width: int, height: int, threshold: int, tile: int, overlap: int
) -> None:
    tiles = plan_tiles(width, height, threshold_px=threshold, tile_px=tile, overlap_px=overlap)
    rows: dict[tuple[int, int], list[TileBox]] = {}
    columns: dict[tuple[int, int], list[TileBox]] = {}
    for t in tiles:
        rows.setdefault((t.y, t.h), []).append(t)
        columns.setdefault((t.x, t.w), []).append(t)
    for row in rows.values():
        row.sort(key=lambda t: t.x)
        for left, right in zip(row, row[1:], strict=False):
            assert left.x2 - right.x >= overlap
    for column in columns.values():
        column.sort(key=lambda t: t.y)
        for top, bottom in zip(column, column[1:], strict=False):
            assert top.y2 - bottom.y >= overlap


def test_any_object_up_to_the_overlap_lies_whole_in_some_tile() -> None:
    # This is what the overlap is for: small objects are never only seen cut.
    rng = random.Random(7)
    for width, height, threshold, tile, overlap in CASES[:150]:
        tiles = plan_tiles(width, height, threshold_px=threshold, tile_px=tile, overlap_px=overlap)
        for _ in range(20):
            w = rng.randint(1, min(max(overlap, 1), width))
            h = rng.randint(1, min(max(overlap, 1), height))
            x, y = rng.randint(0, width - w), rng.randint(0, height - h)
            if overlap == 0 and (w > 1 or h > 1):
                continue
            assert any(t.x <= x and x + w <= t.x2 and t.y <= y and y + h <= t.y2 for t in tiles), (
                width,
                height,
                tile,
                overlap,
                (x, y, w, h),
            )


def test_small_image_is_one_box() -> None:
    assert plan_tiles(1200, 800) == [TileBox(seq=0, x=0, y=0, w=1200, h=800)]
    assert plan_tiles(2048, 10) == [TileBox(seq=0, x=0, y=0, w=2048, h=10)]


def test_5000_by_3000_grid_is_row_major_and_deterministic() -> None:
    tiles = plan_tiles(5000, 3000)
    assert tiles == plan_tiles(5000, 3000)
    xs = sorted({t.x for t in tiles})
    ys = sorted({t.y for t in tiles})
    assert len(xs) == 6 and len(ys) == 4 and len(tiles) == 24
    assert xs[0] == 0 and xs[-1] == 5000 - 1024 and ys[-1] == 3000 - 1024
    assert [(t.y, t.x) for t in tiles] == sorted((t.y, t.x) for t in tiles)
    assert all(t.w == 1024 and t.h == 1024 for t in tiles)


def test_short_side_below_tile_size_is_not_split() -> None:
    tiles = plan_tiles(6000, 700)
    assert {t.h for t in tiles} == {700} and {t.y for t in tiles} == {0}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 0, "height": 10}, "width"),
        ({"width": 10, "height": -1}, "height"),
        ({"width": 10, "height": 10, "tile_px": 0}, "tile_px"),
        ({"width": 10, "height": 10, "threshold_px": 0}, "threshold_px"),
        ({"width": 10, "height": 10, "overlap_px": -1}, "overlap_px"),
        ({"width": 10, "height": 10, "tile_px": 128, "overlap_px": 128}, "smaller than tile_px"),
    ],
)
def test_invalid_parameters_are_rejected(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_tiles(**kwargs)
