"""Audio adapter over PyAV: probe, decode to mono float32, and write segment files.

Every entry point decodes the whole stream rather than trusting container headers, so a truncated
or corrupt upload fails here (as ``MediaError``) instead of producing short or garbled tasks.

Segment files: a FLAC at the source sample rate, mixed down to mono, 16-bit (lossless for the
usual 16-bit sources; 24-bit sources lose only inaudible bits), and an Ogg/Opus copy at ~24 kbit/s
mono for workers on slow connections. Mono is what transcribers listen to and halves the size.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np

from engine.media.errors import MediaError

SegmentFormat = Literal["flac", "opus"]

OPUS_SAMPLE_RATE = 48_000
# The small copy a worker's phone plays (the app's light editor): speech at 8-16 kb/s.
OPUS_BIT_RATE = 12_000

# Decoded audio shorter than the header promises by more than this is a cut-off upload.
# Lenient because AAC/Opus priming and padding make decoded and declared lengths differ a little.
_TRUNCATION_TOLERANCE_SECONDS = 0.25
_TRUNCATION_TOLERANCE_FRACTION = 0.005

# bitexact: a fixed Ogg stream serial, so re-splitting rewrites byte-identical files.
# Short pages: FFmpeg skips Opus end trimming when all audio sits in one page (~1 s by default),
# which would make a short segment 6.5 ms too long; 250 ms pages cost ~1 kbit/s.
_OGG_OPTIONS = {"fflags": "+bitexact", "page_duration": "250000"}

# Leading bytes of the audio containers we accept: if one matches but FFmpeg cannot open the file,
# the file is a damaged audio file rather than something else.
_AUDIO_MAGIC = (
    b"RIFF",
    b"fLaC",
    b"OggS",
    b"ID3",
    *(bytes([0xFF, b]) for b in b"\xfb\xf3\xf2\xe3\xf1\xf9"),
)


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What a file holds, measured by decoding it (duration counts decoded samples)."""

    duration_seconds: float
    sample_rate: int
    channels: int
    codec: str
    container: str


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    info: AudioInfo
    samples: np.ndarray  # mono float32, full scale 1.0
    sample_rate: int


def probe_audio(path: str | Path) -> AudioInfo:
    """Validate ``path`` by decoding it fully; raises MediaError when it is unusable."""
    return _drain(_decode(Path(path), sample_rate=None, keep_samples=False), None)


def decode_audio(path: str | Path, sample_rate: int = 16_000) -> np.ndarray:
    """Decode to a mono float32 array at ``sample_rate``; raises MediaError."""
    return load_audio(path, sample_rate).samples


def load_audio(path: str | Path, sample_rate: int | None = 16_000) -> DecodedAudio:
    """Probe and decode in one pass; ``sample_rate`` None keeps the source rate."""
    chunks: list[np.ndarray] = []
    info = _drain(_decode(Path(path), sample_rate=sample_rate, keep_samples=True), chunks.append)
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return DecodedAudio(info, samples, sample_rate or info.sample_rate)


def iter_audio_chunks(path: str | Path, sample_rate: int | None = None) -> Iterator[np.ndarray]:
    """Stream mono float32 chunks (source rate when ``sample_rate`` is None) in bounded memory.

    Validation errors found only at the end (a short file) are raised after the last chunk.
    """
    yield from _decode(Path(path), sample_rate=sample_rate, keep_samples=True)


def encode_segment(
    samples: np.ndarray,
    sample_rate: int,
    start: float,
    end: float,
    out_path: str | Path,
    fmt: SegmentFormat,
    *,
    samples_offset: int = 0,
) -> Path:
    """Write ``[start, end)`` seconds of mono ``samples`` to ``out_path`` as FLAC or Ogg/Opus.

    ``samples[0]`` is sample number ``samples_offset`` of the recording, so a caller may pass a
    window of a long recording. Times map to samples by rounding, so the file lasts ``end - start``
    to within one sample. The file appears atomically (written aside, then renamed).
    """
    first = round(start * sample_rate) - samples_offset
    last = round(end * sample_rate) - samples_offset
    if first < 0 or last > len(samples) or last <= first:
        raise ValueError(
            f"segment {start:.3f}-{end:.3f}s is outside the {len(samples)} samples given"
        )
    clip = np.asarray(samples[first:last], dtype=np.float32)
    out = Path(out_path)
    tmp = out.with_name(f".{out.name}.part")
    if fmt == "flac":
        _write_flac(clip, sample_rate, tmp)
    elif fmt == "opus":
        _write_opus(clip, sample_rate, tmp)
    else:
        raise ValueError(f"unknown segment format {fmt!r}")
    os.replace(tmp, out)
    return out


def _drain(
    gen: Generator[np.ndarray, None, AudioInfo], sink: Callable[[np.ndarray], object] | None
) -> AudioInfo:
    while True:
        try:
            chunk = next(gen)
        except StopIteration as stop:
            return stop.value
        if sink is not None:
            sink(chunk)


def _decode(
    path: Path, *, sample_rate: int | None, keep_samples: bool
) -> Generator[np.ndarray, None, AudioInfo]:
    """Yield mono float32 chunks (when ``keep_samples``); return the validated AudioInfo."""
    _check_not_empty(path)
    container = _open(path)
    with container:
        stream = container.streams.audio[0]
        codec = stream.codec_context
        source_rate = int(codec.sample_rate or stream.rate or 0)
        if source_rate <= 0:
            raise MediaError("audio stream has no sample rate; the file is corrupt")
        resampler = (
            av.AudioResampler(format="flt", layout="mono", rate=sample_rate or source_rate)
            if keep_samples
            else None
        )
        decoded = 0
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                raise MediaError(
                    f"audio file is truncated or corrupt: decoding failed after "
                    f"{decoded / source_rate:.2f} s ({_ffmpeg_message(exc)})"
                ) from exc
            decoded += frame.samples
            if resampler is not None:
                for out in resampler.resample(frame):
                    yield out.to_ndarray()[0]
        if resampler is not None:
            for out in resampler.resample(None):
                yield out.to_ndarray()[0]
        info = AudioInfo(
            duration_seconds=decoded / source_rate,
            sample_rate=source_rate,
            channels=int(codec.channels or 1),
            codec=codec.name,
            container=container.format.name,
        )
        declared = _declared_seconds(stream, path, container.format.name)
        _check_complete(info.duration_seconds, declared)
        if decoded == 0:
            raise MediaError("audio has no samples (zero length)")
    return info


def _check_not_empty(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise MediaError("audio file not found") from exc
    if size == 0:
        raise MediaError("file is empty (0 bytes)")


def _open(path: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        with path.open("rb") as fh:
            head = fh.read(12)
        if head.startswith(_AUDIO_MAGIC) or head[4:8] == b"ftyp":
            raise MediaError(
                f"audio file is truncated or corrupt: it cannot be opened ({_ffmpeg_message(exc)})"
            ) from exc
        raise MediaError("file is not audio: its format is not a known audio format") from exc
    if not container.streams.audio:
        container.close()
        raise MediaError("file is not audio: it contains no audio stream")
    return container


def _declared_seconds(stream: av.AudioStream, path: Path, container_format: str) -> float | None:
    """The length the file says it has, where it states one exactly; None when unknown."""
    if container_format == "wav":
        # FFmpeg clamps a WAV's length to the bytes present, so read the data chunk size itself.
        return _wav_declared_seconds(path)
    if container_format == "aac":
        return None  # ADTS has no length field: FFmpeg only estimates one from early bitrate
    if stream.duration is None or stream.time_base is None:
        return None  # e.g. MP3 without a Xing/Info header: FFmpeg only estimates from bitrate
    return float(stream.duration * stream.time_base)


def _wav_declared_seconds(path: Path) -> float | None:
    with path.open("rb") as fh:
        header = fh.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return None  # RF64 and friends: no 32-bit sizes to check
        byte_rate = 0
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"fmt " and size >= 16:
                fmt = fh.read(size + (size & 1))
                byte_rate = struct.unpack("<I", fmt[8:12])[0]
            elif chunk_id == b"data":
                # Streaming recorders leave 0 or 0xFFFFFFFF when they never knew the length.
                if byte_rate == 0 or size in (0, 0xFFFFFFFF):
                    return None
                return size / byte_rate
            else:
                fh.seek(size + (size & 1), os.SEEK_CUR)


def _check_complete(decoded_seconds: float, declared_seconds: float | None) -> None:
    if declared_seconds is None:
        return
    tolerance = max(
        _TRUNCATION_TOLERANCE_SECONDS, _TRUNCATION_TOLERANCE_FRACTION * declared_seconds
    )
    if decoded_seconds < declared_seconds - tolerance:
        raise MediaError(
            f"audio file is truncated or corrupt: it holds {decoded_seconds:.2f} s of audio "
            f"but its header says {declared_seconds:.2f} s"
        )


def _ffmpeg_message(exc: av.FFmpegError) -> str:
    return exc.strerror or str(exc)


def _write_flac(clip: np.ndarray, sample_rate: int, out_path: Path) -> None:
    # FFmpeg maps s16 to float as x / 32768; the inverse makes 16-bit sources round-trip exactly.
    pcm = np.clip(np.round(clip * 32768.0), -32768, 32767).astype(np.int16)
    with av.open(str(out_path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=sample_rate)
        stream.layout = "mono"
        stream.format = "s16"
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = sample_rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _write_opus(clip: np.ndarray, sample_rate: int, out_path: Path) -> None:
    frame = av.AudioFrame.from_ndarray(clip.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = sample_rate
    # libopus takes only 8/12/16/24/48 kHz; 48 kHz is what every Opus decoder outputs anyway.
    resampler = av.AudioResampler(format="flt", layout="mono", rate=OPUS_SAMPLE_RATE)
    with av.open(str(out_path), "w", format="ogg", options=_OGG_OPTIONS) as container:
        stream = container.add_stream("libopus", rate=OPUS_SAMPLE_RATE)
        stream.layout = "mono"
        stream.format = "flt"
        stream.bit_rate = OPUS_BIT_RATE
        stream.codec_context.options = {"application": "voip"}  # tuned for speech
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
