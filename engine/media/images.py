"""Pillow adapter for image tasks: probe (validate) an image and cut tiles out of it.

Coordinates are in *oriented* pixels: the EXIF Orientation tag is applied (as
``ImageOps.exif_transpose`` does), so sizes, tiles and worker boxes all refer to the image as a
viewer shows it. Tiles are written without EXIF, so they display the same everywhere.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, UnidentifiedImageError

from engine.domain.tiling import TileBox
from engine.media.image_errors import (
    CORRUPT_IMAGE,
    EMPTY_FILE,
    FILE_NOT_FOUND,
    NOT_AN_IMAGE,
    TOO_MANY_PIXELS,
    UNSUPPORTED_FORMAT,
    ImageError,
)

# Same default as Settings.max_image_pixels.
DEFAULT_MAX_PIXELS = 100_000_000
JPEG_TILE_QUALITY = 92

# Pillow format name -> the format we report. MPO is a camera JPEG with extra frames.
_SUPPORTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "TIFF": "TIFF"}
_SUPPORTED_NAMES = "JPEG, PNG, WebP or TIFF"

# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = {5, 6, 7, 8}
_PNG_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "P", "RGB", "RGBA"}
# What a decoder raises on bad data; anything else is a bug and should surface.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """A validated image. ``width``/``height`` are oriented; ``orientation`` is the EXIF value."""

    width: int
    height: int
    format: str  # JPEG, PNG, WEBP or TIFF
    mode: str  # Pillow mode of the decoded source, e.g. RGB, RGBA, L, P, CMYK
    orientation: int = 1


def probe_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Validate an image by decoding it fully; raise ImageError with a reason if it is unusable.

    The pixel count is checked from the header before any decoding, so a decompression bomb is
    never decoded. Pillow's own bomb guard (2 x ``Image.MAX_IMAGE_PIXELS``) still applies on top.
    """
    with _open_upright(path, max_pixels) as (_, info):
        return info


def crop_tile(
    path: str | Path,
    tile: TileBox,
    out_path: str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Path:
    """Write one tile (oriented pixels) and return the path written.

    JPEG sources give JPEG tiles (quality 92); all others give PNG, so lossless sources stay
    lossless and lossy WebP is not re-compressed. The suffix of ``out_path`` is set to match.
    """
    out = Path(out_path)
    return crop_tiles(path, [tile], out.parent, max_pixels=max_pixels, names=[out.stem])[0]


def crop_tiles(
    path: str | Path,
    tiles: Sequence[TileBox],
    out_dir: str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    names: Sequence[str] | None = None,
) -> list[Path]:
    """Write several tiles from one decode of the source; files are ``tile-<seq>`` by default."""
    if names is not None and len(names) != len(tiles):
        raise ValueError("names must match tiles one to one")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with _open_upright(path, max_pixels) as (image, info):
        as_jpeg = info.format == "JPEG"
        suffix = ".jpg" if as_jpeg else ".png"
        icc_profile = image.info.get("icc_profile")
        for index, tile in enumerate(tiles):
            if tile.x < 0 or tile.y < 0 or tile.x2 > info.width or tile.y2 > info.height:
                raise ValueError(f"tile {tile} is outside the {info.width}x{info.height} image")
            name = names[index] if names is not None else f"tile-{tile.seq:04d}"
            target = out_dir / f"{name}{suffix}"
            piece = image.crop((tile.x, tile.y, tile.x2, tile.y2))
            if as_jpeg:
                piece = piece if piece.mode in ("L", "RGB") else piece.convert("RGB")
                piece.save(target, "JPEG", quality=JPEG_TILE_QUALITY, icc_profile=icc_profile)
            else:
                piece = piece if piece.mode in _PNG_MODES else _to_rgb(piece)
                piece.save(target, "PNG", icc_profile=icc_profile)
            written.append(target)
    return written


@contextmanager
def _open_upright(path: str | Path, max_pixels: int) -> Iterator[tuple[Image.Image, ImageInfo]]:
    """Open, check and fully decode an image; yield it upright with its info."""
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    try:
        size = Path(path).stat().st_size
    except FileNotFoundError:
        raise ImageError(FILE_NOT_FOUND, "image file not found") from None
    if size == 0:
        raise ImageError(EMPTY_FILE, "the file is empty (0 bytes)")
    with warnings.catch_warnings():
        # We enforce our own limit below; Pillow's warning threshold is just noise here.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombError:
            # Pillow's own guard fired at open, before ours could: its limit is the lower one.
            limit = min(max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or max_pixels))
            raise ImageError(
                TOO_MANY_PIXELS, f"the image declares more than {limit} pixels; not decoding it"
            ) from None
        except UnidentifiedImageError:
            raise ImageError(NOT_AN_IMAGE, "not a recognised image file") from None
        except _DECODE_ERRORS as exc:
            raise ImageError(CORRUPT_IMAGE, f"unreadable image header ({exc})") from None
    with image:
        reported = _SUPPORTED_FORMATS.get(image.format or "")
        if reported is None:
            raise ImageError(
                UNSUPPORTED_FORMAT,
                f"{image.format or 'unknown'} images are not supported; use {_SUPPORTED_NAMES}",
            )
        width, height = image.size
        if width * height > max_pixels:
            raise ImageError(
                TOO_MANY_PIXELS,
                f"{width}x{height} is {width * height} pixels, more than the limit of {max_pixels}",
            )
        try:
            image.load()  # full decode: truncated or corrupt data fails here, not later
        except _DECODE_ERRORS as exc:
            raise ImageError(CORRUPT_IMAGE, f"corrupt or truncated image data ({exc})") from None
        orientation = _orientation(image)
        if orientation in _SWAPS_AXES:
            width, height = height, width
        info = ImageInfo(width, height, reported, image.mode, orientation)
        method = _UPRIGHT.get(orientation)
        yield (image.transpose(method) if method is not None else image), info


def _orientation(image: Image.Image) -> int:
    # Read after load(): PNG keeps eXIf after the pixel data, and reading it early would decode.
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except _DECODE_ERRORS:
        return 1  # broken EXIF: the pixels are fine, show them as stored
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def _to_rgb(image: Image.Image) -> Image.Image:
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
