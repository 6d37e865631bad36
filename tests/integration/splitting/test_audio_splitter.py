"""Splitting real recordings into pause-delimited segment files (real audio, real VAD)."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from engine.domain.split_plan import plan_segments
from engine.media.audio import decode_audio, encode_segment, load_audio, probe_audio
from engine.media.errors import MediaError
from engine.media.vad import speech_spans
from engine.splitting.audio_splitter import AudioSplit, split_audio_file
from tests.unit.domain.test_split_plan import assert_plan_properties

SPEECH = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "speech"
HARVARD = SPEECH / "harvard-OSR_us_000_0034_8k.wav"
LIBRI = sorted((SPEECH / "librispeech").glob("*.flac"))
JFK = SPEECH / "jfk.flac"

FRAME_SECONDS = 0.02


def frame_rms(samples: np.ndarray, rate: int) -> np.ndarray:
    size = int(FRAME_SECONDS * rate)
    frames = len(samples) // size
    return np.sqrt(np.mean(samples[: frames * size].reshape(frames, size) ** 2, axis=1))


def quiet_runs(
    samples: np.ndarray, rate: int, *, below: float, min_seconds: float
) -> list[tuple[float, float]]:
    """Stretches where every 20 ms frame is quieter than ``below`` x the loud-speech level."""
    rms = frame_rms(samples, rate)
    quiet = rms < below * np.percentile(rms, 90)
    runs, start = [], None
    for i, q in enumerate([*quiet, False]):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if (i - start) * FRAME_SECONDS >= min_seconds:
                runs.append((start * FRAME_SECONDS, i * FRAME_SECONDS))
            start = None
    return runs


def loudness_at(samples: np.ndarray, rate: int, t: float, radius: float = 0.1) -> float:
    """Peak frame RMS within ``radius`` of ``t``, relative to the loud-speech level."""
    rms = frame_rms(samples, rate)
    lo, hi = int((t - radius) / FRAME_SECONDS), int((t + radius) / FRAME_SECONDS) + 1
    return float(rms[max(lo, 0) : hi].max() / np.percentile(rms, 90))


def cuts_of(split: AudioSplit, overlap: float) -> list[float]:
    return [seg.end - overlap / 2 for seg in split.segments[:-1]]


def assert_split_consistent(split: AudioSplit, *, max_segment: float, overlap: float) -> None:
    """Segments = the pure plan for the VAD spans, which obeys every plan property."""
    plan = plan_segments(
        split.info.duration_seconds,
        split.speech_spans,
        max_segment_seconds=max_segment,
        overlap_seconds=overlap,
    )
    assert [(s.seq, s.start, s.end, s.has_speech, s.hard_cut) for s in plan] == [
        (s.seq, s.start, s.end, s.has_speech, s.hard_cut) for s in split.segments
    ]
    assert_plan_properties(
        plan,
        split.info.duration_seconds,
        split.speech_spans,
        max_segment_seconds=max_segment,
        overlap_seconds=overlap,
    )


def assert_files_match_segments(split: AudioSplit, source: np.ndarray) -> None:
    rate = split.info.sample_rate
    for seg in split.segments:
        flac, opus = probe_audio(seg.flac_path), probe_audio(seg.opus_path)
        assert flac.duration_seconds == pytest.approx(seg.end - seg.start, abs=0.003)
        assert opus.duration_seconds == pytest.approx(seg.end - seg.start, abs=0.003)
        assert (flac.sample_rate, flac.channels, opus.channels) == (rate, 1, 1)
        written = load_audio(seg.flac_path, sample_rate=None).samples
        expected = source[round(seg.start * rate) : round(seg.end * rate)]
        assert np.array_equal(written, expected), f"segment {seg.seq} is not the source audio"


@pytest.fixture(scope="module")
def harvard(tmp_path_factory: pytest.TempPathFactory) -> AudioSplit:
    return split_audio_file(HARVARD, tmp_path_factory.mktemp("harvard"))


def test_harvard_cuts_fall_between_sentences(harvard: AudioSplit) -> None:
    source = load_audio(HARVARD, sample_rate=None).samples
    rate = harvard.info.sample_rate
    # Sentence boundaries found from the signal alone: the ten sentences are separated by nine
    # silences of 0.7 s or more (the comma pause and word gaps are shorter).
    runs = quiet_runs(source, rate, below=0.05, min_seconds=0.7)
    between = [(a, b) for a, b in runs if a > 0.0 and b < harvard.info.duration_seconds - 0.1]
    assert len(between) == 9
    cuts = cuts_of(harvard, 0.5)
    assert cuts, "a 35 s recording is split"
    for cut in cuts:
        assert any(a < cut < b for a, b in between), f"cut {cut:.3f} s is not between sentences"
        assert loudness_at(source, rate, cut, radius=0.25) < 0.05  # the whole overlap is silent
    print("harvard segments:", [(round(s.start, 3), round(s.end, 3)) for s in harvard.segments])


def test_harvard_default_split_obeys_the_plan(harvard: AudioSplit) -> None:
    assert harvard.info.duration_seconds == pytest.approx(35.547875)
    assert harvard.info.sample_rate == 8_000
    assert_split_consistent(harvard, max_segment=30.0, overlap=0.5)
    assert all(seg.has_speech and not seg.hard_cut for seg in harvard.segments)
    assert all(seg.end - seg.start <= 30.0 for seg in harvard.segments)
    assert harvard.segments[0].start == 0.0
    assert harvard.segments[-1].end == harvard.info.duration_seconds
    for prev, nxt in zip(harvard.segments, harvard.segments[1:], strict=False):
        assert prev.end - nxt.start == pytest.approx(0.5)


def test_harvard_files_are_the_source_audio(harvard: AudioSplit) -> None:
    assert_files_match_segments(harvard, load_audio(HARVARD, sample_rate=None).samples)
    names = sorted(p.name for p in harvard.segments[0].flac_path.parent.iterdir())
    expected = [f"{s.seq:05d}.{ext}" for s in harvard.segments for ext in ("flac", "opus")]
    assert names == sorted(expected)


def test_resplitting_is_idempotent(harvard: AudioSplit, tmp_path: Path) -> None:
    again = split_audio_file(HARVARD, tmp_path)
    assert [(s.start, s.end, s.has_speech) for s in again.segments] == [
        (s.start, s.end, s.has_speech) for s in harvard.segments
    ]
    for a, b in zip(harvard.segments, again.segments, strict=True):
        assert a.flac_path.read_bytes() == b.flac_path.read_bytes()
        assert a.opus_path.read_bytes() == b.opus_path.read_bytes()


def test_short_segments_with_larger_overlap(tmp_path: Path) -> None:
    split = split_audio_file(HARVARD, tmp_path, max_segment_seconds=8.0, overlap_seconds=1.0)
    assert_split_consistent(split, max_segment=8.0, overlap=1.0)
    source = load_audio(HARVARD, sample_rate=None).samples
    assert len(split.segments) >= 5
    for cut in cuts_of(split, 1.0):
        assert loudness_at(source, 8_000, cut) < 0.05, f"cut {cut:.3f} s is in speech"
    assert_files_match_segments(split, source)


# --- a long synthetic recording ---------------------------------------------------------------

RATE = 16_000


def _continuous_speech() -> np.ndarray:
    """Speech with every pause spliced out (> 30 s): the VAD finds no gap to cut at."""
    parts = []
    for clip in [*LIBRI, JFK]:
        samples = decode_audio(clip, RATE)
        for a, b in speech_spans(samples, min_silence_ms=100, speech_pad_ms=0):
            parts.append(samples[int(a * RATE) : int(b * RATE)])
    once = np.concatenate(parts)
    return np.concatenate([once, once])


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict:
    rng = np.random.default_rng(3)

    def pause(seconds: float) -> np.ndarray:
        return (rng.standard_normal(int(seconds * RATE)) * 3e-4).astype(np.float32)

    pieces: list[tuple[str, np.ndarray]] = [
        ("pause", pause(2.0)),
        ("speech", decode_audio(HARVARD, RATE)),
        ("pause", pause(1.0)),
        ("continuous", _continuous_speech()),
        ("pause", pause(1.2)),
        ("silence", pause(15.0)),
    ]
    for clip in LIBRI:
        pieces += [("speech", decode_audio(clip, RATE)), ("pause", pause(0.8))]
    pieces.append(("speech", decode_audio(JFK, RATE)))
    regions: dict[str, list[tuple[float, float]]] = {}
    t = 0.0
    for name, samples in pieces:
        regions.setdefault(name, []).append((t, t + len(samples) / RATE))
        t += len(samples) / RATE
    audio = np.concatenate([p for _, p in pieces])
    folder = tmp_path_factory.mktemp("synthetic")
    source = encode_segment(audio, RATE, 0.0, len(audio) / RATE, folder / "long.flac", "flac")
    split = split_audio_file(source, folder / "out")
    return {"split": split, "regions": regions, "source": source}


def test_synthetic_recording_obeys_all_properties(synthetic: dict) -> None:
    split: AudioSplit = synthetic["split"]
    assert split.info.duration_seconds > 120
    assert_split_consistent(split, max_segment=30.0, overlap=0.5)
    source = load_audio(synthetic["source"], sample_rate=None).samples
    assert_files_match_segments(split, source)
    plan = plan_segments(split.info.duration_seconds, split.speech_spans)
    for seg, cut in zip(plan, cuts_of(split, 0.5), strict=False):
        if seg.cut_in_pause_after:
            assert loudness_at(source, RATE, cut) < 0.05, f"pause cut {cut:.3f} s is in speech"


def test_continuous_speech_longer_than_max_is_hard_cut(synthetic: dict) -> None:
    split: AudioSplit = synthetic["split"]
    (start, end) = synthetic["regions"]["continuous"][0]
    assert end - start > 30.0
    hard = [seg for seg in split.segments if seg.hard_cut]
    assert hard, "a pause-free stretch over the maximum must be hard cut"
    for seg in hard:
        assert seg.end > start and seg.start < end  # only inside the continuous stretch
    assert all(seg.end - seg.start <= 30.0 + 1e-9 for seg in split.segments)


def test_long_silence_is_its_own_silent_segment(synthetic: dict) -> None:
    split: AudioSplit = synthetic["split"]
    (start, end) = synthetic["regions"]["silence"][0]
    silent = [seg for seg in split.segments if not seg.has_speech]
    assert silent
    for seg in silent:
        # Within the pause and silence, plus the next clip's own leading silence (0.58 s).
        assert seg.start >= start - 1.2 and seg.end <= end + 0.6
    assert sum(seg.end - seg.start for seg in silent) > 12.0
    for seg in split.segments:
        if seg.has_speech:
            overlap = min(seg.end, end) - max(seg.start, start)
            assert overlap < 2.0, "speech segments carry little of the silence"


# --- bad inputs -------------------------------------------------------------------------------


def _zero_length_wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "file is empty"),
        (b"this is a text file, not a recording\n" * 20, "file is not audio"),
        (_zero_length_wav(), "audio has no samples (zero length)"),
        (HARVARD.read_bytes()[:44], "audio file is truncated or corrupt"),
        (
            LIBRI[0].read_bytes()[: LIBRI[0].stat().st_size // 2],
            "audio file is truncated or corrupt",
        ),
        (HARVARD.read_bytes()[: HARVARD.stat().st_size // 2], "audio file is truncated or corrupt"),
    ],
    ids=["empty", "text", "zero-length", "header-only", "truncated-flac", "truncated-wav"],
)
def test_bad_audio_fails_with_a_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    source = tmp_path / "source.wav"
    source.write_bytes(content)
    out = tmp_path / "out"
    with pytest.raises(MediaError) as caught:
        split_audio_file(source, out)
    assert caught.value.reason.startswith(reason)
    assert not out.exists() or not any(out.iterdir())
