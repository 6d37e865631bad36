"""What intake's quote reads from media: a recording's length in whole milliseconds, an
image's upright size (EXIF orientation applied), header only."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.billing.errors import QuoteRefused
from engine.billing.media_measure import audio_duration_ms, image_size, measure_files
from tests.media_samples import png_bytes, wav_bytes


def test_a_recordings_length_in_ms(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(np.zeros(16_000 * 5 // 2, dtype=np.float32)))
    assert audio_duration_ms(path) == 2500
    [item] = measure_files([path], "audio")
    assert (item.filename, item.duration_ms, item.width) == ("a.wav", 2500, None)


def test_an_unreadable_recording_cannot_be_priced(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFF" + b"\x00" * 40)
    with pytest.raises(QuoteRefused, match="cannot be priced"):
        measure_files([path], "audio")


def test_an_images_upright_size(tmp_path: Path) -> None:
    plain = tmp_path / "a.png"
    plain.write_bytes(png_bytes(40, 30))
    assert image_size(plain) == (40, 30)
    rotated = tmp_path / "b.jpg"
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°: shown 30 × 40
    Image.new("RGB", (40, 30)).save(buffer, "JPEG", exif=exif)
    rotated.write_bytes(buffer.getvalue())
    assert image_size(rotated) == (30, 40)
    junk = tmp_path / "c.png"
    junk.write_bytes(b"not an image")
    assert image_size(junk) is None
    items = measure_files([plain, junk], "image")
    assert [(i.width, i.height) for i in items] == [(40, 30), (None, None)]
