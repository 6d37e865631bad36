"""Training media into the object store under ``training/``: audio is checked by decoding it
and gets the same small Ogg/Opus copy tasks get (what the light editor plays); images are
checked by decoding them. Runs with no transaction open (slow I/O)."""

from __future__ import annotations

import mimetypes
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from engine.domain.job_stage import JobKind
from engine.domain.training_path import TrainingSet
from engine.media.audio import DecodedAudio, encode_segment, load_audio
from engine.media.errors import MediaError
from engine.media.image_errors import ImageError
from engine.media.images import probe_image
from engine.storage.object_store import ObjectStore

# Training items are short clips; a long recording belongs in a job, split into segments.
MAX_TRAINING_AUDIO_SECONDS = 120.0
BROWSER_IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".webm")


class TrainingMediaError(ValueError):
    """The file cannot be a training item's media (the message says why)."""


@dataclass(frozen=True)
class StoredMedia:
    media_key: str
    lowres_media_key: str | None
    source_name: str


def _content_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def check_audio(path: Path) -> DecodedAudio:
    """The decoded clip; TrainingMediaError when it is unusable or too long."""
    try:
        decoded = load_audio(path, sample_rate=None)
    except MediaError as exc:
        raise TrainingMediaError(f"{path.name}: {exc}") from None
    seconds = decoded.info.duration_seconds
    if seconds <= 0:
        raise TrainingMediaError(f"{path.name}: the audio is empty")
    if seconds > MAX_TRAINING_AUDIO_SECONDS:
        raise TrainingMediaError(
            f"{path.name}: {seconds:.0f} s is longer than {MAX_TRAINING_AUDIO_SECONDS:.0f} s; "
            "training items are short clips"
        )
    return decoded


def store_training_media(
    store: ObjectStore, kind: JobKind, set_name: TrainingSet, path: Path
) -> StoredMedia:
    if not path.is_file():
        raise TrainingMediaError(f"{path}: no such file")
    base = f"training/{set_name.value}/{uuid.uuid4().hex}"
    if kind is JobKind.TRANSCRIPTION:
        decoded = check_audio(path)
        media_key = base + (path.suffix.lower() or ".audio")
        lowres_key = base + ".opus"
        with tempfile.TemporaryDirectory(prefix="kazi-training-") as tmp:
            opus = Path(tmp) / "clip.opus"
            end = len(decoded.samples) / decoded.sample_rate
            encode_segment(decoded.samples, decoded.sample_rate, 0.0, end, opus, "opus")
            store.put_file(media_key, path, content_type=_content_type(path))
            store.put_file(lowres_key, opus, content_type="audio/ogg")
        return StoredMedia(media_key, lowres_key, path.name)
    try:
        info = probe_image(path)
    except ImageError as exc:
        raise TrainingMediaError(f"{path.name}: {exc}") from None
    content_type = BROWSER_IMAGE_TYPES.get(info.format)
    if content_type is None:
        raise TrainingMediaError(
            f"{path.name}: {info.format} pictures do not show in phone browsers; use "
            + ", ".join(BROWSER_IMAGE_TYPES)
        )
    media_key = f"{base}.{info.format.lower()}"
    store.put_file(media_key, path, content_type=content_type)
    return StoredMedia(media_key, None, path.name)
