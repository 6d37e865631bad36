"""Build small test media from the shared real recordings (nothing here is synthetic speech)."""

from __future__ import annotations

import io
import struct
import wave
import zlib
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tests.conftest import SPEECH

LIBRI = SPEECH / "librispeech"
HARVARD = SPEECH / "harvard-OSR_us_000_0034_8k.wav"
JFK = SPEECH / "jfk.flac"


def decode_mono(path: Path, rate: int = 16000) -> np.ndarray:
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks)


def wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def speech_wav_bytes(clip: str = "1089-134686-0001.flac") -> bytes:
    return wav_bytes(decode_mono(LIBRI / clip))


def zero_length_wav() -> bytes:
    return wav_bytes(np.zeros(0, dtype=np.int16))


def truncated_flac() -> bytes:
    data = JFK.read_bytes()
    return data[: len(data) // 3]


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def decompression_bomb_png(side: int = 60000) -> bytes:
    """A valid PNG of side x side black pixels: tiny on disk, gigabytes once decoded."""
    raw_row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(raw_row) for _ in range(64)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )
