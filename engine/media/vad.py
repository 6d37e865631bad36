"""Speech detection with the Silero VAD model bundled in faster-whisper (nothing is downloaded).

faster-whisper caches the ONNX session (``get_vad_model`` is ``lru_cache``d, single-threaded),
so the model loads once per process, on the first split.
"""

from __future__ import annotations

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

VAD_SAMPLE_RATE = 16_000

# Short enough that breaths and sentence ends show up as pauses for the planner to choose from;
# the planner, not the VAD, decides which pauses are worth cutting at.
DEFAULT_MIN_SILENCE_MS = 250
DEFAULT_SPEECH_PAD_MS = 100
DEFAULT_THRESHOLD = 0.5


def speech_spans(
    samples_16k: np.ndarray,
    *,
    min_silence_ms: int = DEFAULT_MIN_SILENCE_MS,
    speech_pad_ms: int = DEFAULT_SPEECH_PAD_MS,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[tuple[float, float]]:
    """Return sorted, non-overlapping ``(start, end)`` seconds of speech in 16 kHz mono audio.

    Spans are padded by ``speech_pad_ms`` on each side (halving the gap when two spans are
    closer than twice that), so a gap between spans is a pause clear of speech onsets and tails.
    """
    audio = np.ascontiguousarray(samples_16k, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError("speech_spans expects mono samples (a 1-D array)")
    if audio.size == 0:
        return []
    options = VadOptions(
        threshold=threshold,
        min_silence_duration_ms=min_silence_ms,
        speech_pad_ms=speech_pad_ms,
    )
    found = get_speech_timestamps(audio, options, sampling_rate=VAD_SAMPLE_RATE)
    return [(c["start"] / VAD_SAMPLE_RATE, c["end"] / VAD_SAMPLE_RATE) for c in found]
