"""Upload format sniffing on real, tiny files made here with wave, PyAV and Pillow."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Callable
from functools import cache

import av
import numpy as np
import pytest
from PIL import Image

from engine.domain.media_sniffing import (
    SNIFF_BYTES,
    SniffedFormat,
    UnsupportedMedia,
    identify_upload,
    sniff_format,
)

# -- real files -------------------------------------------------------------------------------


def wav_bytes() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        tone = (int(8000 * math.sin(i / 5)) for i in range(800))
        w.writeframes(b"".join(struct.pack("<h", s) for s in tone))
    return out.getvalue()


def encoded_audio(container: str, codec: str, rate: int, **options: str) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format=container, options=options) as file:
        stream = file.add_stream(codec, rate=rate)
        assert isinstance(stream, av.AudioStream)
        stream.layout = "mono"
        formats = stream.codec_context.codec.audio_formats
        assert formats
        sample_format = formats[0].name  # the encoder's preferred one
        samples = (np.sin(np.arange(rate // 10) * 0.05) * 0.3).astype(np.float32)
        if sample_format.startswith("s16"):
            samples = (samples * 32767).astype(np.int16)
        elif sample_format.startswith("s32"):
            samples = (samples * 2**30).astype(np.int32)
        frame = av.AudioFrame.from_ndarray(
            samples.reshape(1, -1), format=sample_format, layout="mono"
        )
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            file.mux(packet)
    return out.getvalue()


def image_bytes(fmt: str, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (4, 3)).save(out, fmt)
    return out.getvalue()


MAKERS: dict[str, Callable[[], bytes]] = {
    "wav": wav_bytes,
    "flac": lambda: encoded_audio("flac", "flac", 16000),
    "opus": lambda: encoded_audio("ogg", "libopus", 48000),
    "mp3_id3": lambda: encoded_audio("mp3", "libmp3lame", 16000),
    # Bare MPEG frames: no ID3 tag, no Xing frame, so the sniffer must see the frame sync.
    "mp3_frames": lambda: encoded_audio(
        "mp3", "libmp3lame", 16000, id3v2_version="0", write_xing="0"
    ),
    "m4a": lambda: encoded_audio("ipod", "aac", 16000),
    "mp4": lambda: encoded_audio("mp4", "aac", 16000),
    "adts": lambda: encoded_audio("adts", "aac", 16000),  # a plain .aac file
    "png": lambda: image_bytes("PNG"),
    "jpeg": lambda: image_bytes("JPEG"),
    "webp": lambda: image_bytes("WEBP"),
    "tiff_le": lambda: image_bytes("TIFF", "L"),  # Pillow writes II (little-endian)
    "tiff_be": lambda: image_bytes("TIFF", "I;16B"),  # ... and MM for big-endian samples
    "gif": lambda: image_bytes("GIF"),
    "bmp": lambda: image_bytes("BMP"),
}


@cache
def real(name: str) -> bytes:
    return MAKERS[name]()


def head(name: str) -> bytes:
    return real(name)[:SNIFF_BYTES]


WAV = SniffedFormat("audio", "wav", "audio/wav", ".wav")
FLAC = SniffedFormat("audio", "flac", "audio/flac", ".flac")
MP3 = SniffedFormat("audio", "mp3", "audio/mpeg", ".mp3")
OGG = SniffedFormat("audio", "ogg", "audio/ogg", ".ogg")
M4A = SniffedFormat("audio", "m4a", "audio/mp4", ".m4a")
JPEG = SniffedFormat("image", "jpeg", "image/jpeg", ".jpg")
PNG = SniffedFormat("image", "png", "image/png", ".png")
WEBP = SniffedFormat("image", "webp", "image/webp", ".webp")
TIFF = SniffedFormat("image", "tiff", "image/tiff", ".tiff")
AAC = SniffedFormat("audio", "aac", "audio/aac", ".aac")


def test_the_test_files_are_what_they_claim() -> None:
    # Decode each made file back, so the sniffer is tested on real files, not on guesses.
    for name in ["flac", "opus", "mp3_id3", "mp3_frames", "m4a", "mp4", "adts"]:
        with av.open(io.BytesIO(real(name))) as file:
            assert file.streams.audio, name
    with wave.open(io.BytesIO(real("wav"))) as w:
        assert w.getnframes() == 800
    opened = {n: Image.open(io.BytesIO(real(n))).format for n in ["png", "jpeg", "webp", "gif"]}
    assert opened == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF"}
    assert real("tiff_le")[:2] == b"II" and real("tiff_be")[:2] == b"MM"
    assert real("mp3_frames")[:3] != b"ID3" and real("mp3_id3")[:3] == b"ID3"


# -- sniff_format -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wav", WAV),
        ("flac", FLAC),
        ("opus", OGG),
        ("mp3_id3", MP3),
        ("mp3_frames", MP3),
        ("m4a", M4A),
        ("mp4", M4A),
        ("adts", AAC),
        ("png", PNG),
        ("jpeg", JPEG),
        ("webp", WEBP),
        ("tiff_le", TIFF),
        ("tiff_be", TIFF),
    ],
)
def test_supported_formats_are_recognised_from_their_first_bytes(
    name: str, expected: SniffedFormat
) -> None:
    assert sniff_format(head(name)) == expected
    assert sniff_format(real(name)) == expected  # the head is all it looks at


@pytest.mark.parametrize("name", ["gif", "bmp"])
def test_unsupported_images_are_not_recognised(name: str) -> None:
    assert sniff_format(head(name)) is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"R",
        b"RIFF",  # a RIFF header cut before its form type
        b"RIFF\x24\x00\x00\x00AVI LIST",  # RIFF, but a video
        b"\xff",
        b"\xff\xd8",  # a JPEG marker cut short
        b"\x89PNG",
        b"hello, this is text\n",
        b"%PDF-1.7\n",
        b"PK\x03\x04",  # zip
        bytes(64),
        b"<?xml version='1.0'?><svg/>",
    ],
)
def test_short_or_foreign_bytes_are_not_recognised(data: bytes) -> None:
    assert sniff_format(data) is None


def test_a_jpeg_is_not_taken_for_an_mp3_frame() -> None:
    # Both start with 0xFF; the second byte of a JPEG (0xD8) lacks the MPEG sync bits.
    assert sniff_format(head("jpeg")) == JPEG


def test_an_aac_frame_is_not_taken_for_an_mp3_frame() -> None:
    # ADTS sync 0xFFF1 has the 11 sync bits but layer bits 00, not MPEG layer III.
    assert real("adts")[:2] == b"\xff\xf1"
    assert sniff_format(head("adts")) != MP3


@pytest.mark.parametrize(
    ("second_byte", "expected"),
    [
        (0xF1, AAC),  # MPEG-4 AAC, no CRC (what PyAV writes)
        (0xF0, AAC),  # MPEG-4 AAC with CRC
        (0xF9, AAC),  # MPEG-2 AAC, no CRC
        (0xF8, AAC),  # MPEG-2 AAC with CRC
        (0xFB, MP3),  # MPEG-1 layer III: the same sync, layer bits 01
        (0xF3, MP3),  # MPEG-2 layer III
        (0xFD, None),  # MPEG-1 layer II: neither
        (0xF5, None),  # layer bits 10 (layer II), not AAC
    ],
)
def test_adts_and_mpeg_frames_are_told_apart_by_their_layer_bits(
    second_byte: int, expected: SniffedFormat | None
) -> None:
    # Third byte 0x50: AAC LC at 44.1 kHz (index 4) for ADTS, bitrate index 5 for MPEG.
    assert sniff_format(bytes([0xFF, second_byte, 0x50, 0x80])) == expected


def test_an_adts_header_with_a_reserved_sample_rate_is_not_recognised() -> None:
    # Sample-rate indexes 13-15 are reserved: bits 2-5 of the third byte (0x40: AAC LC).
    assert sniff_format(bytes([0xFF, 0xF1, 0x40 | (13 << 2), 0x80])) is None
    assert sniff_format(bytes([0xFF, 0xF1, 0x40 | (12 << 2), 0x80])) == AAC


# -- identify_upload --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "name", "expected"),
    [
        ("clip.wav", "wav", WAV),
        ("CLIP.WAV", "wav", WAV),
        ("take.2.flac", "flac", FLAC),
        ("voice.ogg", "opus", OGG),
        ("voice.opus", "opus", OGG),
        ("voice.oga", "opus", OGG),
        ("song.mp3", "mp3_id3", MP3),
        ("song.mp3", "mp3_frames", MP3),
        ("memo.m4a", "m4a", M4A),
        ("memo.mp4", "mp4", M4A),
        ("photo.jpg", "jpeg", JPEG),
        ("photo.JPEG", "jpeg", JPEG),
        ("scan.png", "png", PNG),
        ("scan.webp", "webp", WEBP),
        ("scan.tif", "tiff_le", TIFF),
        ("scan.tiff", "tiff_be", TIFF),
    ],
)
def test_a_matching_name_and_content_is_accepted(
    filename: str, name: str, expected: SniffedFormat
) -> None:
    assert identify_upload(filename, head(name)) == expected


@pytest.mark.parametrize(
    ("filename", "name", "expected"),
    [
        ("clip.wav", "flac", FLAC),  # an audio name on other audio: the content decides
        ("clip.mp3", "wav", WAV),
        ("clip.m4a", "opus", OGG),
        ("photo.jpg", "png", PNG),
        ("photo.png", "webp", WEBP),
        ("scan.tiff", "jpeg", JPEG),
    ],
)
def test_within_a_media_type_the_content_decides_the_format(
    filename: str, name: str, expected: SniffedFormat
) -> None:
    sniffed = identify_upload(filename, head(name))
    assert sniffed == expected
    assert sniffed.extension != filename[filename.rfind(".") :]  # the stored key gets the real one


@pytest.mark.parametrize(
    ("filename", "name", "named", "content"),
    [
        ("photo.png", "wav", "image", "wav"),
        ("photo.jpg", "mp3_id3", "image", "mp3"),
        ("photo.webp", "flac", "image", "flac"),
        ("clip.wav", "png", "audio", "png"),
        ("clip.mp3", "jpeg", "audio", "jpeg"),
        ("clip.ogg", "tiff_le", "audio", "tiff"),
    ],
)
def test_audio_named_as_an_image_and_back_is_refused(
    filename: str, name: str, named: str, content: str
) -> None:
    with pytest.raises(UnsupportedMedia) as refused:
        identify_upload(filename, head(name))
    message = str(refused.value)
    assert f"named like {named}" in message and f"content is {content}" in message
    assert repr(filename) in message


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("anim.gif", "gif"),
        ("scan.bmp", "bmp"),
        ("clip.wma", "wav"),  # supported content under an unsupported name is still refused
        ("clip.txt", "wav"),
        ("clip", "wav"),
        ("clip.wav.exe", "wav"),
        (".wav", "wav"),  # a dotfile has no extension
    ],
)
def test_an_unsupported_extension_is_refused(filename: str, name: str) -> None:
    with pytest.raises(UnsupportedMedia, match="unsupported file type"):
        identify_upload(filename, head(name))


@pytest.mark.parametrize(
    ("filename", "data", "named"),
    [
        ("anim.png", real("gif"), "image"),
        ("scan.jpg", real("bmp"), "image"),
        ("notes.wav", b"just some notes\n", "audio"),
        ("clip.flac", bytes(64), "audio"),
        ("clip.mp3", b"%PDF-1.7\n", "audio"),
    ],
)
def test_a_supported_name_on_unknown_content_is_refused(
    filename: str, data: bytes, named: str
) -> None:
    with pytest.raises(UnsupportedMedia, match=f"named like {named}.*not a supported"):
        identify_upload(filename, data[:SNIFF_BYTES])


@pytest.mark.parametrize("filename", ["clip.wav", "photo.png", "no_extension"])
def test_an_empty_upload_is_refused_first(filename: str) -> None:
    with pytest.raises(UnsupportedMedia, match="is empty"):
        identify_upload(filename, b"")


def test_a_plain_aac_file_is_accepted() -> None:
    # '.aac' files hold ADTS frames, whose 0xFFF1 sync is no MP3 layer III frame.
    assert identify_upload("voice.aac", head("adts")) == AAC
    assert identify_upload("VOICE.AAC", head("adts")) == AAC


def test_an_aac_named_image_is_refused() -> None:
    with pytest.raises(UnsupportedMedia, match="named like image but its content is aac"):
        identify_upload("photo.png", head("adts"))
