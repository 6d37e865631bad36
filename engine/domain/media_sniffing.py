"""Recognise an upload's real format from its first bytes, whatever its name says (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

SNIFF_BYTES = 64

AUDIO_EXTENSIONS = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".oga", ".m4a", ".mp4", ".aac"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class SniffedFormat:
    media_type: str  # "audio" | "image"
    format: str  # wav, flac, mp3, aac, ogg, m4a, jpeg, png, webp, tiff
    content_type: str
    extension: str


_FORMATS = {
    "wav": SniffedFormat("audio", "wav", "audio/wav", ".wav"),
    "flac": SniffedFormat("audio", "flac", "audio/flac", ".flac"),
    "mp3": SniffedFormat("audio", "mp3", "audio/mpeg", ".mp3"),
    "aac": SniffedFormat("audio", "aac", "audio/aac", ".aac"),
    "ogg": SniffedFormat("audio", "ogg", "audio/ogg", ".ogg"),
    "m4a": SniffedFormat("audio", "m4a", "audio/mp4", ".m4a"),
    "jpeg": SniffedFormat("image", "jpeg", "image/jpeg", ".jpg"),
    "png": SniffedFormat("image", "png", "image/png", ".png"),
    "webp": SniffedFormat("image", "webp", "image/webp", ".webp"),
    "tiff": SniffedFormat("image", "tiff", "image/tiff", ".tiff"),
}


class UnsupportedMedia(ValueError):
    """The bytes are not a supported audio or image format."""


def _is_mp3_frame(head: bytes) -> bool:
    # MPEG audio frame sync: 11 set bits, layer III, a valid bitrate index.
    return (
        len(head) >= 3
        and head[0] == 0xFF
        and (head[1] & 0xE0) == 0xE0
        and (head[1] & 0x06) == 0x02
        and (head[2] & 0xF0) != 0xF0
    )


def _is_adts_frame(head: bytes) -> bool:
    # ADTS (a plain .aac file): 12 set sync bits, then the MPEG version bit and layer bits 00,
    # which no MPEG audio frame has, so an MP3 is never taken for AAC; a valid sample-rate index.
    return (
        len(head) >= 3
        and head[0] == 0xFF
        and (head[1] & 0xF6) == 0xF0
        and ((head[2] >> 2) & 0x0F) <= 12
    )


def sniff_format(head: bytes) -> SniffedFormat | None:
    """Return the format the leading bytes belong to, or None when unrecognised."""
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return _FORMATS["wav"]
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _FORMATS["webp"]
    if head.startswith(b"fLaC"):
        return _FORMATS["flac"]
    if head.startswith(b"OggS"):
        return _FORMATS["ogg"]
    if head[4:8] == b"ftyp":
        return _FORMATS["m4a"]
    if head.startswith(b"ID3"):
        # ID3 tags precede MP3 frames, and sometimes FLAC; the splitter decodes to be sure.
        return _FORMATS["mp3"]
    if _is_mp3_frame(head):
        return _FORMATS["mp3"]
    if _is_adts_frame(head):
        return _FORMATS["aac"]
    if head.startswith(b"\xff\xd8\xff"):
        return _FORMATS["jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _FORMATS["png"]
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return _FORMATS["tiff"]
    return None


def identify_upload(filename: str, head: bytes) -> SniffedFormat:
    """Check an upload's extension and content agree on a supported format.

    Raises UnsupportedMedia with a message fit for the client.
    """
    if not head:
        raise UnsupportedMedia(f"{filename!r} is empty")
    extension = PurePosixPath(filename).suffix.lower()
    if extension not in AUDIO_EXTENSIONS | IMAGE_EXTENSIONS:
        raise UnsupportedMedia(
            f"{filename!r}: unsupported file type {extension or '(no extension)'!r}; "
            "audio: wav, flac, mp3, aac, ogg/opus, m4a; images: jpeg, png, webp, tiff"
        )
    sniffed = sniff_format(head)
    if sniffed is None:
        expected = "audio" if extension in AUDIO_EXTENSIONS else "image"
        raise UnsupportedMedia(
            f"{filename!r} is named like {expected} ({extension}) but its content is not a "
            "supported audio or image format"
        )
    named_type = "audio" if extension in AUDIO_EXTENSIONS else "image"
    if sniffed.media_type != named_type:
        raise UnsupportedMedia(
            f"{filename!r} is named like {named_type} but its content is {sniffed.format}"
        )
    return sniffed
