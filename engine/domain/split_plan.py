"""Plan where to cut a recording into short, pause-delimited segments (pure: no I/O).

Input is the recording's duration and its speech spans (from a VAD); a *pause* is a gap between
spans (or before the first / after the last) at least ``min_pause_seconds`` long.

Cut policy, applied left to right from the start ``s`` of the segment being planned:

* A cut is a point ``c``; the segment before it ends at ``c + overlap/2`` and the next one starts
  at ``c - overlap/2``, so consecutive segments share exactly ``overlap_seconds`` and a word at a
  cut is heard in both. The first segment starts at 0 and the last ends at ``duration``.
* Allowed window: ``c`` lies in ``[s + min_segment, latest]`` where ``latest`` keeps the segment
  within ``max_segment_seconds`` (and leaves at least ``min_segment`` for the last segment).
* Target: the speech up to the next long silence (or the end) is shared evenly, aiming at
  ``rest / round(rest / target)`` seconds per segment, so there is no stub at the end.
  When that rest is a single target's worth (and fits), no cut is needed.
* The cut goes in the **longest pause** that reaches the band of ±25 % around that aim (sentence
  ends beat breaths, breaths beat word gaps); with no pause in the band, in the pause **nearest**
  the band. Within a pause the cut is at its middle (inside the allowed window).
* Long silences (``long_silence_seconds`` or more) get their own segments: speech ends
  ``margin`` (half the overlap + 0.25 s) after the silence begins, the silent part is cut into
  as few segments as ``max`` allows, and the next speech segment starts ``margin`` before the
  speech resumes. Those silent segments have ``has_speech=False`` so later stages can skip
  drafting them.
* With no pause anywhere in the allowed window (continuous speech longer than the maximum), it is
  a **hard cut** at the latest allowed point (fewest hard cuts); the overlap still covers the
  word cut in two and the segment is flagged (``cut_in_pause_* = False``).

Defaults: max 30 s, overlap 0.5 s, target 12 s, pauses from 0.1 s (gaps between VAD spans that
are already padded by 0.1 s each side, so ~0.3 s of real silence), long silences from 4 s,
segments from 1 s. Deterministic: the same input always gives the same plan, so re-splitting is
idempotent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_MAX_SEGMENT_SECONDS = 30.0
DEFAULT_OVERLAP_SECONDS = 0.5
DEFAULT_TARGET_SEGMENT_SECONDS = 12.0
DEFAULT_MIN_PAUSE_SECONDS = 0.1
DEFAULT_LONG_SILENCE_SECONDS = 4.0
DEFAULT_MIN_SEGMENT_SECONDS = 1.0

_TARGET_BAND = 0.25  # fraction of the aimed length a preferred cut may deviate by
_SILENCE_MARGIN = 0.25  # silence kept beyond the overlap next to speech, in seconds
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class PlannedSegment:
    """One segment in seconds. ``cut_in_pause_*`` is True at the recording's ends (no cut)."""

    seq: int
    start: float
    end: float
    cut_in_pause_before: bool
    cut_in_pause_after: bool
    has_speech: bool

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def hard_cut(self) -> bool:
        """True when a boundary of this segment cuts through speech."""
        return not (self.cut_in_pause_before and self.cut_in_pause_after)


@dataclass(frozen=True, slots=True)
class _Pause:
    start: float
    end: float
    long: bool

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class _Cut:
    at: float
    in_pause: bool


@dataclass(frozen=True, slots=True)
class _Rules:
    duration: float
    max_len: float
    half_overlap: float
    target: float
    min_segment: float
    margin: float


def plan_segments(
    duration: float,
    speech_spans: Sequence[tuple[float, float]],
    *,
    max_segment_seconds: float = DEFAULT_MAX_SEGMENT_SECONDS,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    target_segment_seconds: float = DEFAULT_TARGET_SEGMENT_SECONDS,
    min_pause_seconds: float = DEFAULT_MIN_PAUSE_SECONDS,
    long_silence_seconds: float = DEFAULT_LONG_SILENCE_SECONDS,
    min_segment_seconds: float = DEFAULT_MIN_SEGMENT_SECONDS,
) -> list[PlannedSegment]:
    """Cut ``[0, duration]`` into overlapping segments at pauses (see the module docstring).

    ``min_segment_seconds`` is lowered to a quarter of ``max - overlap`` when that is smaller,
    so any valid maximum and overlap can be planned. Raises ValueError on invalid parameters.
    """
    _validate(
        duration,
        max_segment_seconds=max_segment_seconds,
        overlap_seconds=overlap_seconds,
        target_segment_seconds=target_segment_seconds,
        min_pause_seconds=min_pause_seconds,
        long_silence_seconds=long_silence_seconds,
        min_segment_seconds=min_segment_seconds,
    )
    rules = _Rules(
        duration=duration,
        max_len=max_segment_seconds,
        half_overlap=overlap_seconds / 2,
        target=target_segment_seconds,
        min_segment=min(min_segment_seconds, (max_segment_seconds - overlap_seconds) / 4),
        margin=overlap_seconds / 2 + _SILENCE_MARGIN,
    )
    spans = normalize_spans(speech_spans, duration)
    # A silence only gets its own segment when it leaves margin on both sides and some length.
    long_at = max(long_silence_seconds, 2 * rules.margin + rules.min_segment)
    pauses = [
        _Pause(a, b, long=b - a >= long_at)
        for a, b in _gaps(spans, duration)
        if b - a >= min_pause_seconds
    ]
    return _segments(rules, _plan_cuts(rules, pauses), spans)


def normalize_spans(
    spans: Sequence[tuple[float, float]], duration: float
) -> list[tuple[float, float]]:
    """Clip spans to ``[0, duration]``, sort them and merge the ones that overlap or touch."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError(f"speech span ({start}, {end}) is not finite")
        if end < start:
            raise ValueError(f"speech span ({start}, {end}) ends before it starts")
        start, end = max(0.0, start), min(duration, end)
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _validate(duration: float, **params: float) -> None:
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration}")
    for name, value in params.items():
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
    for name in ("max_segment_seconds", "target_segment_seconds", "min_segment_seconds"):
        if params[name] <= 0:
            raise ValueError(f"{name} must be positive, got {params[name]}")
    for name in ("overlap_seconds", "min_pause_seconds", "long_silence_seconds"):
        if params[name] < 0:
            raise ValueError(f"{name} must not be negative, got {params[name]}")
    if params["overlap_seconds"] >= params["max_segment_seconds"]:
        raise ValueError(
            f"overlap_seconds ({params['overlap_seconds']}) must be shorter than "
            f"max_segment_seconds ({params['max_segment_seconds']})"
        )


def _gaps(spans: list[tuple[float, float]], duration: float) -> list[tuple[float, float]]:
    edges = [0.0] + [t for span in spans for t in span] + [duration]
    pairs = zip(edges[::2], edges[1::2], strict=True)
    return [(a, b) for a, b in pairs if b > a]


def _plan_cuts(rules: _Rules, pauses: list[_Pause]) -> list[_Cut]:
    cuts: list[_Cut] = []
    start = 0.0
    # Every cut advances by at least min_segment; the cap only guards against a planning bug.
    for _ in range(math.ceil(rules.duration / rules.min_segment) + 2):
        cut = _next_cut(rules, pauses, start)
        if cut is None:
            return cuts
        cuts.append(cut)
        start = cut.at
    raise RuntimeError("split planning did not converge")


def _next_cut(rules: _Rules, pauses: list[_Pause], s: float) -> _Cut | None:
    """The cut ending the segment whose nominal start is ``s``; None when it runs to the end."""
    duration, half = rules.duration, rules.half_overlap
    seg_start = max(0.0, s - half)
    fits = duration - seg_start <= rules.max_len + _EPS
    lo = max(s + rules.min_segment, half)
    hi = min(seg_start + rules.max_len - half, duration - rules.min_segment, duration - half)
    if hi < lo:
        return None  # the window is never empty while the rest is longer than the maximum

    here = next((p for p in pauses if p.start <= s < p.end), None)
    if here is not None and here.long:
        if here.end >= duration:
            return None if fits else _Cut(hi, in_pause=True)
        # Keep the segment silent up to just before speech resumes, unless speech is near.
        end_of_silence = here.end - rules.margin
        if end_of_silence - s >= rules.min_segment:
            return _Cut(min(hi, end_of_silence), in_pause=True)

    next_long = next((p for p in pauses if p.long and p.start > s), None)
    speech_end = next_long.start if next_long is not None else duration
    rest = speech_end - s
    parts = max(1, math.floor(rest / rules.target + 0.5))
    if next_long is None and parts == 1 and fits:
        return None
    if next_long is not None and parts == 1 and next_long.start < hi:
        # The speech before the next long silence is one target's worth: end it there.
        return _Cut(_cut_point(next_long, s, lo, hi, rules.margin), in_pause=True)

    candidates = [p for p in pauses if max(p.start, lo) < min(p.end, hi)]
    if not candidates:
        return None if fits else _Cut(hi, in_pause=False)
    aim = rest / parts
    band = (s + (1 - _TARGET_BAND) * aim, s + (1 + _TARGET_BAND) * aim)
    in_band = [p for p in candidates if _distance(p, lo, hi, band) == 0.0]
    if in_band:
        best = max(in_band, key=lambda p: (p.length, -p.start))
    else:
        best = min(candidates, key=lambda p: (_distance(p, lo, hi, band), -p.length, p.start))
    return _Cut(_cut_point(best, s, lo, hi, rules.margin), in_pause=True)


def _cut_point(pause: _Pause, s: float, lo: float, hi: float, margin: float) -> float:
    a, b = max(pause.start, lo), min(pause.end, hi)
    if pause.long and pause.start > s:
        return min(max(pause.start + margin, a), b)  # speech ends: keep only a margin of silence
    return (a + b) / 2


def _distance(pause: _Pause, lo: float, hi: float, band: tuple[float, float]) -> float:
    a, b = max(pause.start, lo), min(pause.end, hi)
    return max(band[0] - b, a - band[1], 0.0)


def _segments(
    rules: _Rules, cuts: list[_Cut], spans: list[tuple[float, float]]
) -> list[PlannedSegment]:
    points = [_Cut(0.0, True), *cuts, _Cut(rules.duration, True)]
    segments = []
    for seq, (before, after) in enumerate(zip(points, points[1:], strict=False)):
        start = 0.0 if seq == 0 else max(0.0, before.at - rules.half_overlap)
        last = seq == len(points) - 2
        end = rules.duration if last else min(rules.duration, after.at + rules.half_overlap)
        segments.append(
            PlannedSegment(
                seq=seq,
                start=start,
                end=end,
                cut_in_pause_before=before.in_pause,
                cut_in_pause_after=after.in_pause,
                has_speech=any(min(end, b) - max(start, a) > _EPS for a, b in spans),
            )
        )
    return segments
