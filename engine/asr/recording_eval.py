"""Whole recordings through the engine's own path: split -> pre-draft -> stitch, and scoring.

This is the path a transcription job takes (the audio splitter writes each segment as FLAC, the
drafter reads those files back at 16 kHz, stitching joins the drafts), run in-process so that
``kazi eval asr`` and ``bench/predraft.py`` measure what production does.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import jiwer

from engine.asr.whisper_drafter import SegmentAudio, WhisperDrafter
from engine.domain.draft import SegmentDraft
from engine.domain.scoring import corpus_error_counts
from engine.domain.stitch_transcript import StitchedTranscript, stitch_drafts
from engine.domain.text_normalization import normalize_text
from engine.media.audio import decode_audio
from engine.splitting.audio_splitter import split_audio_file

# Segments decoded into memory at a time, so a long recording's audio is never all held at once.
_SEGMENTS_PER_ROUND = 32


@dataclass(frozen=True)
class RecordingTranscript:
    """One recording through split -> draft -> stitch."""

    path: Path
    audio_seconds: float
    seconds: float  # wall time of split + draft + stitch
    drafts: tuple[SegmentDraft, ...]
    transcript: StitchedTranscript
    reference: str | None = None

    @property
    def text(self) -> str:
        return self.transcript.text

    @property
    def failed_segments(self) -> int:
        return sum(not draft.ok for draft in self.drafts)


@dataclass(frozen=True)
class EvalReport:
    recordings: list[RecordingTranscript]
    audio_seconds: float
    seconds: float
    wer: float | None  # corpus WER over recordings with references (None: no references)
    cer: float | None
    missing_references: list[str] = field(default_factory=list)

    @property
    def speed(self) -> float:
        """Audio seconds per wall second."""
        return self.audio_seconds / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "recordings": len(self.recordings),
            "audio_seconds": round(self.audio_seconds, 3),
            "seconds": round(self.seconds, 3),
            "wer": None if self.wer is None else round(self.wer, 6),
            "cer": None if self.cer is None else round(self.cer, 6),
        }


def transcribe_recording(
    path: str | Path,
    drafter: WhisperDrafter,
    *,
    max_segment_seconds: float,
    overlap_seconds: float,
) -> RecordingTranscript:
    """Split ``path`` as a job would, draft its speech segments and stitch them."""
    source = Path(path)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kazi-eval-asr-") as work:
        split = split_audio_file(
            source, work, max_segment_seconds=max_segment_seconds, overlap_seconds=overlap_seconds
        )
        speech = [segment for segment in split.segments if segment.has_speech]
        drafts: list[SegmentDraft] = []
        for first in range(0, len(speech), _SEGMENTS_PER_ROUND):
            batch = [
                SegmentAudio(
                    task_id=f"{segment.seq:05d}",
                    samples=decode_audio(segment.flac_path),
                    offset_seconds=segment.start,
                    speech_spans=spans_within(split.speech_spans, segment.start, segment.end),
                )
                for segment in speech[first : first + _SEGMENTS_PER_ROUND]
            ]
            drafts.extend(drafter.draft_segments(batch))
    transcript = stitch_drafts(drafts)
    return RecordingTranscript(
        path=source,
        audio_seconds=split.info.duration_seconds,
        seconds=time.perf_counter() - started,
        drafts=tuple(drafts),
        transcript=transcript,
    )


def spans_within(
    spans: Sequence[tuple[float, float]], start: float, end: float
) -> tuple[tuple[float, float], ...]:
    """The parts of recording-relative ``spans`` inside ``[start, end]``, relative to ``start``."""
    return tuple(
        (max(a, start) - start, min(b, end) - start) for a, b in spans if b > start and a < end
    )


def evaluate_recordings(
    paths: Sequence[str | Path],
    drafter: WhisperDrafter,
    *,
    references: dict[str, str] | None = None,
    max_segment_seconds: float,
    overlap_seconds: float,
) -> EvalReport:
    """Transcribe every recording; score against ``references`` when given."""
    results: list[RecordingTranscript] = []
    missing: list[str] = []
    for path in paths:
        result = transcribe_recording(
            path,
            drafter,
            max_segment_seconds=max_segment_seconds,
            overlap_seconds=overlap_seconds,
        )
        if references is not None:
            reference = match_reference(path, references)
            if reference is None:
                missing.append(str(path))
            result = replace(result, reference=reference)
        results.append(result)
    scored = [(r.reference, r.text) for r in results if r.reference is not None]
    wer = cer = None
    if scored:
        wer = corpus_error_counts(scored).error_rate
        cer = corpus_character_error_rate(scored)
    return EvalReport(
        recordings=results,
        audio_seconds=sum(r.audio_seconds for r in results),
        seconds=sum(r.seconds for r in results),
        wer=wer,
        cer=cer,
        missing_references=missing,
    )


def corpus_character_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """All character edits over all reference characters, on normalised texts."""
    errors = length = 0
    for reference, hypothesis in pairs:
        ref, hyp = normalize_text(reference), normalize_text(hypothesis)
        if not ref:
            errors += len(hyp)
            continue
        output = jiwer.process_characters(ref, hyp)
        errors += output.substitutions + output.deletions + output.insertions
        length += len(ref)
    if length == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / length


def read_references(path: str | Path) -> dict[str, str]:
    """``file<TAB>reference`` lines (blank lines and ``#`` comments skipped)."""
    references: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, text = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{number}: expected 'file<TAB>reference'")
        references[name.strip()] = text.strip()
    return references


def match_reference(path: str | Path, references: dict[str, str]) -> str | None:
    """The reference for ``path``: by the path as given, else by its file name."""
    given = str(path)
    if given in references:
        return references[given]
    by_name = {Path(name).name: text for name, text in references.items()}
    return by_name.get(Path(given).name)


def write_transcripts(results: Iterable[RecordingTranscript], path: str | Path) -> None:
    """``file<TAB>text`` per recording (tabs and line breaks in text become spaces)."""
    lines = [f"{result.path}\t{' '.join(result.text.split())}\n" for result in results]
    Path(path).write_text("".join(lines), encoding="utf-8")


def speech_clips(speech_dir: str | Path) -> list[tuple[Path, str]]:
    """The shared speech clips with their references, in a fixed order (see its README)."""
    root = Path(speech_dir)
    clips = [
        (
            root / "jfk.flac",
            "And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.",
        )
    ]
    libri: dict[str, str] = {}
    for listing in sorted((root / "librispeech").glob("*.trans.txt")):
        for line in listing.read_text(encoding="utf-8").splitlines():
            if line.strip():
                utterance, text = line.split(" ", 1)
                libri[utterance] = text.strip()
    clips += [(root / "librispeech" / f"{u}.flac", libri[u]) for u in sorted(libri)]
    for meta in sorted(root.glob("harvard-*.json")):
        entry = json.loads(meta.read_text(encoding="utf-8"))[0]
        clips.append((meta.with_suffix(".wav"), entry["transcription"]))
    return clips
