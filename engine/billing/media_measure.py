"""What intake's quote needs from stored media, read cheaply: an audio file's declared length
(container header, integer ms) and an image's size (header only, EXIF orientation applied).
Runs before the intake transaction opens (it reads the object store)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from engine.billing.errors import QuoteRefused
from engine.db.models import SourceMediaRow
from engine.domain.pricing import MediaItem
from engine.media.audio import probe_audio
from engine.media.errors import MediaError
from engine.storage.local_store import LocalObjectStore
from engine.storage.object_store import ObjectStore

_EXIF_ORIENTATION = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}


@contextmanager
def _local_path(store: ObjectStore, key: str) -> Iterator[Path]:
    if isinstance(store, LocalObjectStore):
        yield store.path_for(key)
        return
    with tempfile.TemporaryDirectory(prefix="kazi-quote-") as folder:
        yield store.download_to(key, Path(folder) / "media")


def audio_duration_ms(path: Path) -> int:
    """The declared length when the container states one; else the decoded length."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = container.streams.audio
            if streams and streams[0].duration is not None and streams[0].time_base is not None:
                seconds = Fraction(streams[0].duration) * Fraction(streams[0].time_base)
                return max(1, round(seconds * 1000))
            if container.duration is not None:  # in AV_TIME_BASE (microseconds)
                return max(1, round(Fraction(container.duration, 1000)))
    except av.FFmpegError:
        pass
    seconds = Fraction(str(probe_audio(path).duration_seconds))
    return max(1, round(seconds * 1000))


def image_size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError):
        return None
    return (height, width) if orientation in _SWAPS_AXES else (width, height)


def measure_sources(store: ObjectStore, sources: Sequence[SourceMediaRow]) -> tuple[MediaItem, ...]:
    items = []
    for source in sources:
        with _local_path(store, source.object_key) as path:
            if source.media_type == "audio":
                try:
                    duration_ms = audio_duration_ms(path)
                except MediaError as error:
                    raise QuoteRefused(
                        f"{source.filename!r} cannot be priced: {error.reason}"
                    ) from None
                items.append(MediaItem(source.filename, duration_ms=duration_ms))
            else:
                size = image_size(path)
                width, height = size if size is not None else (None, None)
                items.append(MediaItem(source.filename, width=width, height=height))
    return tuple(items)


def measure_files(paths: Sequence[Path], media_type: str) -> tuple[MediaItem, ...]:
    """Local files described for a quote (``kazi submit --quote``)."""
    items = []
    for path in paths:
        if media_type == "audio":
            try:
                duration_ms = audio_duration_ms(path)
            except MediaError as error:
                raise QuoteRefused(f"{path.name!r} cannot be priced: {error.reason}") from None
            items.append(MediaItem(path.name, duration_ms=duration_ms))
        else:
            size = image_size(path)
            width, height = size if size is not None else (None, None)
            items.append(MediaItem(path.name, width=width, height=height))
    return tuple(items)
