"""Turn one client image into image microtasks: probe it, plan tiles, write the tile files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.domain.tiling import TileBox, plan_tiles
from engine.media.images import ImageInfo, crop_tiles, probe_image


@dataclass(frozen=True, slots=True)
class ImageTileFile:
    """One task's image. ``path`` None means "use the source image itself" (no tiling)."""

    seq: int
    box: TileBox
    path: Path | None


@dataclass(frozen=True, slots=True)
class ImageSplit:
    info: ImageInfo
    tiles: list[ImageTileFile]


def split_image_file(
    source_path: str | Path,
    out_dir: str | Path,
    *,
    threshold_px: int,
    tile_px: int,
    overlap_px: int,
    max_pixels: int,
) -> ImageSplit:
    """Validate ``source_path`` (raises ImageError) and write its tiles under ``out_dir``.

    Boxes are in oriented source pixels (EXIF orientation applied). An image that needs no tiling
    gives one tile with ``path=None`` ("use the source itself") when a browser shows the source
    exactly as the box describes; a TIFF (browsers cannot show it) or an EXIF-rotated source is
    written out once, upright, as a PNG/JPEG like any tile.
    """
    info = probe_image(source_path, max_pixels=max_pixels)
    boxes = plan_tiles(
        info.width,
        info.height,
        threshold_px=threshold_px,
        tile_px=tile_px,
        overlap_px=overlap_px,
    )
    if len(boxes) == 1 and _browser_shows_as_is(info):
        return ImageSplit(info, [ImageTileFile(seq=boxes[0].seq, box=boxes[0], path=None)])
    paths = crop_tiles(source_path, boxes, out_dir, max_pixels=max_pixels)
    tiles = [ImageTileFile(seq=b.seq, box=b, path=p) for b, p in zip(boxes, paths, strict=True)]
    return ImageSplit(info, tiles)


def _browser_shows_as_is(info: ImageInfo) -> bool:
    # Labeling tools differ on EXIF orientation; an upright copy removes the doubt.
    return info.format in ("JPEG", "PNG", "WEBP") and info.orientation == 1
