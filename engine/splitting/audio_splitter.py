"""Turn one client recording into audio microtasks: probe, find speech, plan cuts, write files.

Two decoding passes keep memory bounded: the first validates the file and yields 16 kHz audio
for the VAD; the second streams the source-rate audio and writes each segment (FLAC + Opus) as
soon as its end has been decoded, so only about one segment of source audio is held at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.domain.split_plan import (
    DEFAULT_LONG_SILENCE_SECONDS,
    DEFAULT_MAX_SEGMENT_SECONDS,
    DEFAULT_MIN_PAUSE_SECONDS,
    DEFAULT_OVERLAP_SECONDS,
    DEFAULT_TARGET_SEGMENT_SECONDS,
    PlannedSegment,
    plan_segments,
)
from engine.media.audio import AudioInfo, encode_segment, iter_audio_chunks, load_audio
from engine.media.vad import (
    DEFAULT_MIN_SILENCE_MS,
    DEFAULT_SPEECH_PAD_MS,
    DEFAULT_THRESHOLD,
    VAD_SAMPLE_RATE,
    speech_spans,
)


@dataclass(frozen=True, slots=True)
class AudioSegmentFile:
    """One task's audio: ``[start, end]`` seconds of the source, as FLAC and as Opus."""

    seq: int
    start: float
    end: float
    flac_path: Path
    opus_path: Path
    has_speech: bool
    hard_cut: bool


@dataclass(frozen=True, slots=True)
class AudioSplit:
    info: AudioInfo
    segments: list[AudioSegmentFile]
    speech_spans: list[tuple[float, float]]  # seconds, as the VAD found them


def split_audio_file(
    source_path: str | Path,
    out_dir: str | Path,
    *,
    max_segment_seconds: float = DEFAULT_MAX_SEGMENT_SECONDS,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    target_segment_seconds: float = DEFAULT_TARGET_SEGMENT_SECONDS,
    min_pause_seconds: float = DEFAULT_MIN_PAUSE_SECONDS,
    long_silence_seconds: float = DEFAULT_LONG_SILENCE_SECONDS,
    vad_min_silence_ms: int = DEFAULT_MIN_SILENCE_MS,
    vad_speech_pad_ms: int = DEFAULT_SPEECH_PAD_MS,
    vad_threshold: float = DEFAULT_THRESHOLD,
) -> AudioSplit:
    """Validate ``source_path`` (raises MediaError) and write its segments under ``out_dir``.

    Files are named ``{seq:05d}.flac`` and ``{seq:05d}.opus``. The same input always gives the
    same plan and files, so a repeated run overwrites them with identical content.
    """
    source = Path(source_path)
    decoded = load_audio(source, VAD_SAMPLE_RATE)
    spans = speech_spans(
        decoded.samples,
        min_silence_ms=vad_min_silence_ms,
        speech_pad_ms=vad_speech_pad_ms,
        threshold=vad_threshold,
    )
    info = decoded.info
    del decoded  # the 16 kHz copy is not needed while writing
    plan = plan_segments(
        info.duration_seconds,
        spans,
        max_segment_seconds=max_segment_seconds,
        overlap_seconds=overlap_seconds,
        target_segment_seconds=target_segment_seconds,
        min_pause_seconds=min_pause_seconds,
        long_silence_seconds=long_silence_seconds,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return AudioSplit(info, _write_segments(source, info.sample_rate, plan, out), spans)


def _write_segments(
    source: Path, rate: int, plan: list[PlannedSegment], out_dir: Path
) -> list[AudioSegmentFile]:
    written: list[AudioSegmentFile] = []
    pending = list(plan)  # ordered by start and by end
    chunks: list[np.ndarray] = []
    offset = 0  # sample number of chunks[0][0]
    buffered_end = 0

    def flush(final: bool) -> None:
        nonlocal chunks, offset
        buffer = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        while pending and (final or round(pending[0].end * rate) <= buffered_end):
            segment = pending.pop(0)
            # The last pass can decode a sample fewer than the plan's rounding expects.
            end = min(segment.end, buffered_end / rate)
            written.append(_write_one(buffer, rate, offset, segment, end, out_dir))
        keep_from = round(pending[0].start * rate) if pending else buffered_end
        chunks = [buffer[keep_from - offset :].copy()]
        offset = keep_from

    for chunk in iter_audio_chunks(source):
        chunks.append(chunk)
        buffered_end += len(chunk)
        if pending and round(pending[0].end * rate) <= buffered_end:
            flush(final=False)
    if pending and chunks:
        flush(final=True)
    return written


def _write_one(
    buffer: np.ndarray,
    rate: int,
    offset: int,
    segment: PlannedSegment,
    end: float,
    out_dir: Path,
) -> AudioSegmentFile:
    flac_path = out_dir / f"{segment.seq:05d}.flac"
    opus_path = out_dir / f"{segment.seq:05d}.opus"
    encode_segment(buffer, rate, segment.start, end, flac_path, "flac", samples_offset=offset)
    encode_segment(buffer, rate, segment.start, end, opus_path, "opus", samples_offset=offset)
    return AudioSegmentFile(
        seq=segment.seq,
        start=segment.start,
        end=segment.end,
        flac_path=flac_path,
        opus_path=opus_path,
        has_speech=segment.has_speech,
        hard_cut=segment.hard_cut,
    )
