"""Tile plans for large images: which rectangles of the source become image microtasks.

Boxes are ``[x, y, w, h]`` in source pixels of the *oriented* image (EXIF orientation applied),
which is what workers see.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_THRESHOLD_PX = 2048
DEFAULT_TILE_PX = 1024
DEFAULT_OVERLAP_PX = 128


@dataclass(frozen=True, slots=True)
class TileBox:
    """One tile: ``seq`` is 0-based in row-major order (top row first, left to right)."""

    seq: int
    x: int
    y: int
    w: int
    h: int

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h


def plan_tiles(
    width: int,
    height: int,
    *,
    threshold_px: int = DEFAULT_THRESHOLD_PX,
    tile_px: int = DEFAULT_TILE_PX,
    overlap_px: int = DEFAULT_OVERLAP_PX,
) -> list[TileBox]:
    """Tiles covering a ``width`` x ``height`` image.

    One box covering the image when its longer side is at most ``threshold_px``. Otherwise a grid
    of tiles no larger than ``tile_px`` per side, neighbours overlapping by at least ``overlap_px``
    so that any object up to ``overlap_px`` wide lies whole in some tile. Tiles are spread evenly
    and the last row/column ends exactly at the image edge (no padding).
    """
    _require_positive("width", width)
    _require_positive("height", height)
    _require_positive("threshold_px", threshold_px)
    _require_positive("tile_px", tile_px)
    if overlap_px < 0:
        raise ValueError(f"overlap_px must be >= 0, got {overlap_px}")
    if overlap_px >= tile_px:
        raise ValueError(f"overlap_px ({overlap_px}) must be smaller than tile_px ({tile_px})")

    if max(width, height) <= threshold_px:
        return [TileBox(seq=0, x=0, y=0, w=width, h=height)]

    columns = _axis_spans(width, tile_px, overlap_px)
    rows = _axis_spans(height, tile_px, overlap_px)
    tiles: list[TileBox] = []
    for y, h in rows:
        for x, w in columns:
            tiles.append(TileBox(seq=len(tiles), x=x, y=y, w=w, h=h))
    return tiles


def _axis_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """(start, size) spans along one axis: fewest tiles, starts spread evenly."""
    if length <= tile:
        return [(0, length)]
    step = tile - overlap
    count = -(-(length - overlap) // step)  # ceil: (count - 1) * step >= length - tile
    last_start = length - tile
    # Integer division keeps every stride <= ceil(last_start / (count - 1)) <= step,
    # so each neighbouring pair still overlaps by at least `overlap`.
    return [(i * last_start // (count - 1), tile) for i in range(count)]


def _require_positive(name: str, value: int) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of pixels, got {value}")
