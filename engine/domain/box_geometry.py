"""Box geometry for tiled image tasks: IoU, tile-to-source mapping, merging boxes cut by tiles.

All boxes are ``x, y, w, h`` floats. Source coordinates are pixels of the oriented source image
(EXIF orientation applied), the same frame the tiles are planned in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.domain.tiling import TileBox

DEFAULT_MERGE_IOU = 0.5
DEFAULT_BORDER_TOLERANCE_PX = 8.0


@dataclass(frozen=True, slots=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.x, self.y, self.w, self.h)):
            raise ValueError(f"box coordinates must be finite: {self}")
        if self.w < 0 or self.h < 0:
            raise ValueError(f"box width and height must be >= 0: {self}")

    @property
    def x2(self) -> float:
        return self.x + self.w

    @property
    def y2(self) -> float:
        return self.y + self.h

    @property
    def area(self) -> float:
        return self.w * self.h

    @classmethod
    def from_corners(cls, x1: float, y1: float, x2: float, y2: float) -> Box:
        return cls(x1, y1, x2 - x1, y2 - y1)

    @classmethod
    def of_tile(cls, tile: TileBox) -> Box:
        return cls(tile.x, tile.y, tile.w, tile.h)


@dataclass(frozen=True, slots=True)
class TileAnnotation:
    """A box a worker drew on tile ``tile_seq``, in that tile's pixel coordinates."""

    tile_seq: int
    label: str
    box: Box


@dataclass(frozen=True, slots=True)
class MergedBox:
    """One object in source coordinates; ``members`` index the input annotations merged into it."""

    label: str
    box: Box
    members: tuple[int, ...]


def intersection(a: Box, b: Box) -> Box | None:
    """Overlap of two boxes, or None when they share no area."""
    x1, y1 = max(a.x, b.x), max(a.y, b.y)
    x2, y2 = min(a.x2, b.x2), min(a.y2, b.y2)
    if x2 <= x1 or y2 <= y1:
        return None
    return Box.from_corners(x1, y1, x2, y2)


def union_extent(boxes: Sequence[Box]) -> Box:
    if not boxes:
        raise ValueError("union_extent needs at least one box")
    return Box.from_corners(
        min(b.x for b in boxes),
        min(b.y for b in boxes),
        max(b.x2 for b in boxes),
        max(b.y2 for b in boxes),
    )


def iou(a: Box, b: Box) -> float:
    overlap = intersection(a, b)
    if overlap is None:
        return 0.0
    union = a.area + b.area - overlap.area
    return overlap.area / union if union > 0 else 0.0


def tile_to_source(box_in_tile: Box, tile: TileBox) -> Box:
    """Map a box from tile pixels to source pixels, clipped to the tile.

    Clipping absorbs drawing tools that let a box run a little past the tile edge; a box wholly
    outside the tile is a caller error.
    """
    x1, y1 = max(box_in_tile.x, 0.0), max(box_in_tile.y, 0.0)
    x2, y2 = min(box_in_tile.x2, float(tile.w)), min(box_in_tile.y2, float(tile.h))
    if x2 < x1 or y2 < y1:
        raise ValueError(f"box {box_in_tile} lies outside tile {tile.seq} ({tile.w}x{tile.h})")
    return Box.from_corners(tile.x + x1, tile.y + y1, tile.x + x2, tile.y + y2)


def merge_boxes_across_tiles(
    annotations: Sequence[TileAnnotation],
    tiles: Sequence[TileBox],
    *,
    iou_threshold: float = DEFAULT_MERGE_IOU,
    border_tolerance_px: float = DEFAULT_BORDER_TOLERANCE_PX,
) -> list[MergedBox]:
    """Merge boxes of one object drawn on several overlapping tiles into one source box.

    Two boxes of the same label on different overlapping tiles are the same object when, inside the
    pixels both tiles show (their overlap region), their parts have IoU >= ``iou_threshold``, and
    wherever one box runs past that region the other is cut by its tile border there (within
    ``border_tolerance_px``): a worker who saw the object continue would have drawn it to the edge.
    Duplicates of an object lying wholly in the overlap satisfy this too. Each box joins at most
    one box per other tile, and a merged object never holds two boxes from the same tile.
    The merged box is the union extent; output follows the first member's input order.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    if border_tolerance_px < 0:
        raise ValueError(f"border_tolerance_px must be >= 0, got {border_tolerance_px}")
    tiles_by_seq = {tile.seq: tile for tile in tiles}
    missing = {a.tile_seq for a in annotations} - tiles_by_seq.keys()
    if missing:
        raise ValueError(f"annotations refer to unknown tiles: {sorted(missing)}")

    source = [tile_to_source(a.box, tiles_by_seq[a.tile_seq]) for a in annotations]
    candidates: list[tuple[float, int, int]] = []
    for i, a in enumerate(annotations):
        for j in range(i + 1, len(annotations)):
            b = annotations[j]
            if a.label != b.label or a.tile_seq == b.tile_seq:
                continue
            shared = intersection(
                Box.of_tile(tiles_by_seq[a.tile_seq]), Box.of_tile(tiles_by_seq[b.tile_seq])
            )
            if shared is None:
                continue
            score = _continuation_score(source[i], source[j], shared, border_tolerance_px)
            if score >= iou_threshold:
                candidates.append((score, i, j))

    groups = _Groups([a.tile_seq for a in annotations])
    paired: set[tuple[int, int]] = set()  # (annotation, other tile) already used
    for _, i, j in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        key_i, key_j = (i, annotations[j].tile_seq), (j, annotations[i].tile_seq)
        if key_i in paired or key_j in paired:
            continue
        if groups.join(i, j):
            paired.update((key_i, key_j))

    merged: list[MergedBox] = []
    for members in groups.members():
        merged.append(
            MergedBox(
                label=annotations[members[0]].label,
                box=union_extent([source[m] for m in members]),
                members=tuple(members),
            )
        )
    return merged


def _continuation_score(a: Box, b: Box, shared: Box, tolerance: float) -> float:
    """IoU of the two boxes inside ``shared``; -1 when they cannot be one object."""
    a_part, b_part = intersection(a, shared), intersection(b, shared)
    if a_part is None or b_part is None:
        return -1.0
    for first, second in ((a, b), (b, a)):
        # `first` leaves the shared region on a side only through the other tile's inner border,
        # so `second` must reach that border too.
        if first.x < shared.x - tolerance and second.x > shared.x + tolerance:
            return -1.0
        if first.y < shared.y - tolerance and second.y > shared.y + tolerance:
            return -1.0
        if first.x2 > shared.x2 + tolerance and second.x2 < shared.x2 - tolerance:
            return -1.0
        if first.y2 > shared.y2 + tolerance and second.y2 < shared.y2 - tolerance:
            return -1.0
    return iou(a_part, b_part)


class _Groups:
    """Union-find over annotations that refuses to put two boxes of one tile together."""

    def __init__(self, tile_of: list[int]) -> None:
        self._parent = list(range(len(tile_of)))
        self._tiles = [{t} for t in tile_of]

    def _root(self, i: int) -> int:
        while self._parent[i] != i:
            self._parent[i] = self._parent[self._parent[i]]
            i = self._parent[i]
        return i

    def join(self, i: int, j: int) -> bool:
        ri, rj = self._root(i), self._root(j)
        if ri == rj or self._tiles[ri] & self._tiles[rj]:
            return False
        low, high = min(ri, rj), max(ri, rj)
        self._parent[high] = low
        self._tiles[low] |= self._tiles[high]
        return True

    def members(self) -> list[list[int]]:
        groups: dict[int, list[int]] = {}
        for i in range(len(self._parent)):
            groups.setdefault(self._root(i), []).append(i)
        return list(groups.values())
