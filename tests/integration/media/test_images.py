from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFile, ImageOps

from engine.domain.tiling import TileBox, plan_tiles
from engine.media.errors import MediaError
from engine.media.image_errors import (
    CORRUPT_IMAGE,
    EMPTY_FILE,
    FILE_NOT_FOUND,
    NOT_AN_IMAGE,
    TOO_MANY_PIXELS,
    UNSUPPORTED_FORMAT,
    ImageError,
)
from engine.media.images import ImageInfo, crop_tile, probe_image
from engine.splitting.image_splitter import split_image_file

MAX_PIXELS = 100_000_000
SPLIT = {"threshold_px": 2048, "tile_px": 1024, "overlap_px": 128, "max_pixels": MAX_PIXELS}


def _pattern(width: int, height: int) -> np.ndarray:
    """RGB pixels that encode their own position, so any crop can be checked exactly."""
    xs, ys = np.arange(width)[None, :], np.arange(height)[:, None]
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = xs % 256
    rgb[..., 1] = ys % 256
    rgb[..., 2] = (xs // 256 * 16 + ys // 256) % 256
    return rgb


def _save(path: Path, pixels: np.ndarray, fmt: str, **params: object) -> Path:
    Image.fromarray(pixels).save(path, fmt, **params)
    return path


def _png_header_only(width: int, height: int) -> bytes:
    """A valid-looking PNG that declares width x height but carries no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def _code(path: Path, max_pixels: int = MAX_PIXELS) -> str:
    with pytest.raises(ImageError) as caught:
        probe_image(path, max_pixels=max_pixels)
    assert caught.value.reason  # people get a sentence, not just a code
    return caught.value.code


# --- supported formats ---------------------------------------------------------------------


def test_large_png_is_tiled_and_every_tile_holds_the_source_pixels(tmp_path: Path) -> None:
    pixels = _pattern(5000, 3000)
    source = _save(tmp_path / "big.png", pixels, "PNG", compress_level=1)

    split = split_image_file(source, tmp_path / "tiles", **SPLIT)

    assert split.info == ImageInfo(5000, 3000, "PNG", "RGB", 1)
    assert [t.box for t in split.tiles] == plan_tiles(5000, 3000)
    assert len(split.tiles) == 24
    for tile in split.tiles:
        assert tile.path is not None and tile.path.suffix == ".png"
        with Image.open(tile.path) as written:
            assert written.format == "PNG"
            got = np.asarray(written)
        b = tile.box
        np.testing.assert_array_equal(got, pixels[b.y : b.y2, b.x : b.x2])


def test_small_jpeg_is_one_task_using_the_source_itself(tmp_path: Path) -> None:
    source = _save(tmp_path / "photo.jpg", _pattern(1200, 800), "JPEG", quality=95)

    split = split_image_file(source, tmp_path / "tiles", **SPLIT)

    assert split.info == ImageInfo(1200, 800, "JPEG", "RGB", 1)
    assert len(split.tiles) == 1
    assert split.tiles[0].box == TileBox(0, 0, 0, 1200, 800)
    assert split.tiles[0].path is None
    assert not (tmp_path / "tiles").exists()


def test_jpeg_tiles_are_jpeg(tmp_path: Path) -> None:
    pixels = _pattern(1200, 800)
    source = _save(tmp_path / "photo.jpg", pixels, "JPEG", quality=95)

    written = crop_tile(source, TileBox(0, 100, 200, 300, 400), tmp_path / "t.png")

    assert written == tmp_path / "t.jpg"
    with Image.open(written) as tile:
        assert tile.format == "JPEG" and tile.size == (300, 400)
        error = np.abs(np.asarray(tile, dtype=int) - pixels[200:600, 100:400].astype(int))
    assert error.mean() < 6  # lossy, but the same picture


def test_webp_probes_and_tiles_as_png(tmp_path: Path) -> None:
    pixels = _pattern(640, 480)
    source = _save(tmp_path / "pic.webp", pixels, "WEBP", lossless=True)

    assert probe_image(source, max_pixels=MAX_PIXELS) == ImageInfo(640, 480, "WEBP", "RGB", 1)
    written = crop_tile(source, TileBox(0, 10, 20, 100, 50), tmp_path / "t")
    assert written.suffix == ".png"
    with Image.open(written) as tile:
        np.testing.assert_array_equal(np.asarray(tile), pixels[20:70, 10:110])


def test_tiff_probes_and_is_written_as_png_even_untiled(tmp_path: Path) -> None:
    pixels = _pattern(900, 700)
    source = _save(tmp_path / "scan.tif", pixels, "TIFF", compression="tiff_lzw")

    split = split_image_file(source, tmp_path / "tiles", **SPLIT)

    assert split.info == ImageInfo(900, 700, "TIFF", "RGB", 1)
    (tile,) = split.tiles
    assert tile.path is not None and tile.path.suffix == ".png"  # browsers cannot show TIFF
    with Image.open(tile.path) as written:
        np.testing.assert_array_equal(np.asarray(written), pixels)


def test_cmyk_tiff_tile_becomes_rgb_png(tmp_path: Path) -> None:
    source = tmp_path / "print.tif"
    Image.fromarray(_pattern(300, 200)).convert("CMYK").save(source, "TIFF")

    assert probe_image(source, max_pixels=MAX_PIXELS).mode == "CMYK"
    written = crop_tile(source, TileBox(0, 0, 0, 100, 100), tmp_path / "t")
    with Image.open(written) as tile:
        assert tile.format == "PNG" and tile.mode == "RGB"


def test_camera_mpo_counts_as_jpeg(tmp_path: Path) -> None:
    source = tmp_path / "camera.jpg"
    first, second = Image.fromarray(_pattern(320, 240)), Image.new("RGB", (320, 240))
    first.save(source, "MPO", save_all=True, append_images=[second])
    with Image.open(source) as opened:
        assert opened.format == "MPO"

    assert probe_image(source, max_pixels=MAX_PIXELS).format == "JPEG"


# --- EXIF orientation ----------------------------------------------------------------------


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return exif


def test_exif_rotated_jpeg_reports_and_tiles_oriented_pixels(tmp_path: Path) -> None:
    raw = np.zeros((200, 300, 3), dtype=np.uint8)  # stored 300 wide, 200 high
    raw[:50, :50] = (255, 0, 0)  # red in the stored top-left corner
    source = _save(tmp_path / "phone.jpg", raw, "JPEG", quality=95, exif=_exif(6))

    info = probe_image(source, max_pixels=MAX_PIXELS)

    # Orientation 6: shown rotated 90 degrees clockwise, so 200 wide and 300 high,
    # and the stored top-left corner is shown top-right.
    assert info == ImageInfo(200, 300, "JPEG", "RGB", 6)
    written = crop_tile(source, TileBox(0, 150, 0, 50, 50), tmp_path / "corner")
    with Image.open(written) as tile:
        assert tile.size == (50, 50)
        assert ExifTags.Base.Orientation not in tile.getexif()  # already upright
        r, g, b = np.asarray(tile, dtype=int)[10:40, 10:40].mean(axis=(0, 1))
    assert r > 200 and g < 40 and b < 40

    split = split_image_file(source, tmp_path / "tiles", **SPLIT)
    (only,) = split.tiles
    assert only.box == TileBox(0, 0, 0, 200, 300)
    assert only.path is not None  # an upright copy, not the rotated-by-metadata source
    with Image.open(only.path) as upright:
        assert upright.size == (200, 300)


def test_exif_rotated_large_image_is_tiled_in_oriented_pixels(tmp_path: Path) -> None:
    source = _save(tmp_path / "tall.jpg", _pattern(3000, 1000), "JPEG", exif=_exif(8))

    split = split_image_file(source, tmp_path / "tiles", **SPLIT)

    assert (split.info.width, split.info.height) == (1000, 3000)
    assert [t.box for t in split.tiles] == plan_tiles(1000, 3000)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiles_match_exif_transpose_for_every_orientation(tmp_path: Path, orientation: int) -> None:
    source = _save(tmp_path / "o.png", _pattern(301, 203), "PNG", exif=_exif(orientation))
    with Image.open(source) as opened:
        reference = np.asarray(ImageOps.exif_transpose(opened))

    info = probe_image(source, max_pixels=MAX_PIXELS)

    assert (info.height, info.width) == reference.shape[:2]
    assert info.orientation == orientation
    box = TileBox(0, 17, 29, 80, 60)
    with Image.open(crop_tile(source, box, tmp_path / "t")) as tile:
        np.testing.assert_array_equal(np.asarray(tile), reference[29:89, 17:97])


# --- rejected files ------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert _code(path) == EMPTY_FILE


def test_missing_file(tmp_path: Path) -> None:
    assert _code(tmp_path / "gone.png") == FILE_NOT_FOUND


def test_rejections_are_media_errors_for_the_splitting_service(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        split_image_file(path, tmp_path / "tiles", **SPLIT)


def test_text_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n" * 20)
    assert _code(path) == NOT_AN_IMAGE


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "anim.gif"), ("BMP", "old.bmp")])
def test_unsupported_formats_say_what_is_supported(tmp_path: Path, fmt: str, name: str) -> None:
    path = _save(tmp_path / name, _pattern(40, 30), fmt)
    with pytest.raises(ImageError) as caught:
        probe_image(path, max_pixels=MAX_PIXELS)
    assert caught.value.code == UNSUPPORTED_FORMAT
    assert fmt in caught.value.reason and "JPEG, PNG, WebP or TIFF" in caught.value.reason


@pytest.mark.parametrize(("fmt", "name"), [("JPEG", "cut.jpg"), ("PNG", "cut.png")])
def test_truncated_image_is_caught_by_a_full_decode(tmp_path: Path, fmt: str, name: str) -> None:
    whole = _save(tmp_path / f"whole-{name}", _pattern(400, 300), fmt)
    data = whole.read_bytes()
    cut = tmp_path / name
    cut.write_bytes(data[: len(data) // 2])
    with Image.open(cut) as header_only:
        assert header_only.size == (400, 300)  # the header alone looks fine

    assert _code(cut) == CORRUPT_IMAGE


def test_corrupt_png_data(tmp_path: Path) -> None:
    path = _save(tmp_path / "bad.png", _pattern(200, 200), "PNG")
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 4
    data[start + 20 : start + 60] = bytes(40)  # damage the compressed pixels
    path.write_bytes(bytes(data))

    assert _code(path) == CORRUPT_IMAGE


def test_decompression_bomb_is_rejected_from_the_header(tmp_path: Path, no_decoding: None) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(50_000, 50_000))  # 2.5 gigapixels in 60 bytes
    assert bomb.stat().st_size < 100

    assert _code(bomb) == TOO_MANY_PIXELS


def test_our_pixel_limit_applies_below_pillows(tmp_path: Path, no_decoding: None) -> None:
    # 100 MP is over Pillow's warning level but under its hard limit: our own check rejects it,
    # without Pillow's DecompressionBombWarning leaking out.
    big = tmp_path / "big.png"
    big.write_bytes(_png_header_only(10_000, 10_000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _code(big, max_pixels=50_000_000) == TOO_MANY_PIXELS


def test_real_image_over_the_limit_is_not_decoded(tmp_path: Path) -> None:
    source = _save(tmp_path / "photo.jpg", _pattern(1200, 800), "JPEG")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
        with pytest.raises(ImageError) as caught:
            split_image_file(source, tmp_path / "tiles", **{**SPLIT, "max_pixels": 500_000})
    assert caught.value.code == TOO_MANY_PIXELS
    assert "960000" in caught.value.reason and "500000" in caught.value.reason


def test_tile_outside_the_image_is_a_caller_error(tmp_path: Path) -> None:
    source = _save(tmp_path / "p.png", _pattern(100, 100), "PNG")
    with pytest.raises(ValueError, match="outside"):
        crop_tile(source, TileBox(0, 50, 50, 60, 10), tmp_path / "t")
