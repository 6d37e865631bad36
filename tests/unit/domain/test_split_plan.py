"""Properties of the audio split plan, on hand-made cases and on many random recordings."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from engine.domain.split_plan import (
    DEFAULT_MIN_PAUSE_SECONDS,
    DEFAULT_MIN_SEGMENT_SECONDS,
    PlannedSegment,
    normalize_spans,
    plan_segments,
)

TOL = 1e-9

# Speech spans the VAD finds in harvard-OSR_us_000_0034_8k.wav (ten sentences; the last one has a
# comma pause at 33.67-34.11, and two sentences have short word gaps).
HARVARD_SPANS = [
    (1.15, 3.91),
    (4.7, 6.92),
    (7.8, 10.08),
    (10.84, 13.99),
    (15.26, 17.09),
    (17.69, 20.52),
    (21.15, 22.34),
    (22.52, 24.04),
    (25.21, 26.72),
    (26.81, 28.36),
    (29.44, 31.33),
    (32.54, 33.67),
    (34.11, 34.95),
]
HARVARD_DURATION = 35.547875
HARVARD_SENTENCE_GAPS = [
    (3.91, 4.7),
    (6.92, 7.8),
    (10.08, 10.84),
    (13.99, 15.26),
    (17.09, 17.69),
    (20.52, 21.15),
    (24.04, 25.21),
    (28.36, 29.44),
    (31.33, 32.54),
]


def assert_plan_properties(
    plan: Sequence[PlannedSegment],
    duration: float,
    spans: Sequence[tuple[float, float]],
    *,
    max_segment_seconds: float = 30.0,
    overlap_seconds: float = 0.5,
    min_pause_seconds: float = DEFAULT_MIN_PAUSE_SECONDS,
    min_segment_seconds: float = DEFAULT_MIN_SEGMENT_SECONDS,
) -> None:
    """Check every property the planner promises, independently of how it plans."""
    half = overlap_seconds / 2
    min_segment = min(min_segment_seconds, (max_segment_seconds - overlap_seconds) / 4)
    merged = normalize_spans(spans, duration)
    edges = [0.0] + [t for span in merged for t in span] + [duration]
    gaps = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b > a]
    pauses = [(a, b) for a, b in gaps if b - a >= min_pause_seconds]

    assert [s.seq for s in plan] == list(range(len(plan)))
    # Coverage of [0, duration], no segment over the maximum.
    assert plan[0].start == 0.0 and plan[-1].end == duration
    assert plan[0].cut_in_pause_before and plan[-1].cut_in_pause_after
    for seg in plan:
        assert seg.start < seg.end
        assert seg.duration <= max_segment_seconds + TOL, seg
        speech = any(min(seg.end, b) - max(seg.start, a) > TOL for a, b in merged)
        assert seg.has_speech == speech, seg

    for prev, nxt in zip(plan, plan[1:], strict=False):
        # Exactly the configured overlap, centred on the cut; both sides agree on the cut's kind.
        assert prev.end - nxt.start == pytest.approx(overlap_seconds, abs=TOL)
        assert nxt.start > prev.start and nxt.end > prev.end
        assert prev.cut_in_pause_after == nxt.cut_in_pause_before
        cut = nxt.start + half
        if prev.cut_in_pause_after:
            assert any(a - TOL <= cut <= b + TOL for a, b in pauses), f"cut {cut} not in a pause"
        else:
            # A hard cut only when no pause reaches into the allowed window.
            nominal_start = 0.0 if prev.seq == 0 else prev.start + half
            lo = max(nominal_start + min_segment, half)
            hi = min(
                prev.start + max_segment_seconds - half, duration - min_segment, duration - half
            )
            usable = [(a, b) for a, b in pauses if max(a, lo) < min(b, hi) - TOL]
            assert not usable, f"hard cut at {cut} although pauses {usable} were allowed"
            assert cut == pytest.approx(hi, abs=1e-6), "a hard cut goes at the latest point"
            assert not any(a < cut < b for a, b in pauses), "a hard cut lies outside pauses"


def cuts_of(plan: Sequence[PlannedSegment], overlap: float = 0.5) -> list[float]:
    return [seg.end - overlap / 2 for seg in plan[:-1]]


def test_harvard_cuts_between_sentences() -> None:
    plan = plan_segments(HARVARD_DURATION, HARVARD_SPANS)
    assert_plan_properties(plan, HARVARD_DURATION, HARVARD_SPANS)
    assert len(plan) == 3
    for cut in cuts_of(plan):
        assert any(a < cut < b for a, b in HARVARD_SENTENCE_GAPS), cut
    # Sentence pauses beat the nearer word gaps; lengths aim at the 12 s target, no stub at the end.
    assert [round(c, 3) for c in cuts_of(plan)] == [14.625, 24.625]
    assert all(not seg.hard_cut and seg.has_speech for seg in plan)


def test_short_recording_is_one_segment() -> None:
    plan = plan_segments(8.0, [(0.5, 7.5)])
    assert plan == [PlannedSegment(0, 0.0, 8.0, True, True, True)]


def test_silent_recording_is_covered_and_flagged() -> None:
    plan = plan_segments(95.0, [])
    assert_plan_properties(plan, 95.0, [])
    assert not any(seg.has_speech for seg in plan)
    assert len(plan) == 4  # silence is cut into as few segments as the maximum allows


def test_continuous_speech_is_hard_cut_with_overlap() -> None:
    plan = plan_segments(100.0, [(0.0, 100.0)])
    assert_plan_properties(plan, 100.0, [(0.0, 100.0)])
    assert [(s.start, s.end) for s in plan] == [
        (0.0, 30.0),
        (29.5, 59.5),
        (59.0, 89.0),
        (88.5, 100.0),
    ]
    assert all(seg.hard_cut for seg in plan)
    assert not plan[0].cut_in_pause_after and plan[0].cut_in_pause_before


def test_word_gaps_shorter_than_min_pause_are_not_pauses() -> None:
    spans = [(0.0 + 2 * i, 1.95 + 2 * i) for i in range(30)]  # 50 ms gaps
    plan = plan_segments(60.0, spans, min_pause_seconds=0.1)
    assert_plan_properties(plan, 60.0, spans, min_pause_seconds=0.1)
    assert plan[0].hard_cut


def test_longest_pause_in_band_wins_over_nearer_short_one() -> None:
    spans = [(0.0, 10.0), (10.2, 13.0), (14.0, 24.0), (24.3, 40.0)]
    plan = plan_segments(40.0, spans)
    assert_plan_properties(plan, 40.0, spans)
    assert 13.0 < cuts_of(plan)[0] < 14.0


def test_pause_outside_band_is_used_before_a_hard_cut() -> None:
    spans = [(0.0, 3.0), (3.5, 45.0)]  # one early pause, then 41.5 s of speech
    plan = plan_segments(45.0, spans)
    assert_plan_properties(plan, 45.0, spans)
    assert 3.0 < cuts_of(plan)[0] < 3.5


def test_long_silence_gets_its_own_silent_segment() -> None:
    spans = [(1.0, 9.0), (25.0, 33.0)]
    plan = plan_segments(34.0, spans)
    assert_plan_properties(plan, 34.0, spans)
    assert [seg.has_speech for seg in plan] == [True, False, True]
    speech_before, silence, speech_after = plan
    assert speech_before.end == pytest.approx(9.0 + 0.5 + 0.25)  # margin + half overlap
    assert speech_after.start == pytest.approx(25.0 - 0.5 - 0.25)
    assert silence.start > 9.0 and silence.end < 25.0


def test_leading_and_trailing_silence() -> None:
    spans = [(20.0, 28.0)]
    plan = plan_segments(50.0, spans)
    assert_plan_properties(plan, 50.0, spans)
    assert [seg.has_speech for seg in plan] == [False, True, False]


def test_zero_overlap_and_custom_limits() -> None:
    spans = HARVARD_SPANS
    plan = plan_segments(
        HARVARD_DURATION,
        spans,
        max_segment_seconds=8.0,
        overlap_seconds=0.0,
        target_segment_seconds=5,
    )
    assert_plan_properties(
        plan, HARVARD_DURATION, spans, max_segment_seconds=8.0, overlap_seconds=0.0
    )
    assert all(seg.duration <= 8.0 for seg in plan)
    assert not any(seg.hard_cut for seg in plan)


def test_plan_is_deterministic() -> None:
    assert plan_segments(HARVARD_DURATION, HARVARD_SPANS) == plan_segments(
        HARVARD_DURATION, list(reversed(HARVARD_SPANS))
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"overlap_seconds": -0.1}, "overlap_seconds must not be negative"),
        ({"overlap_seconds": 30.0}, "must be shorter than max_segment_seconds"),
        ({"overlap_seconds": 31.0}, "must be shorter than max_segment_seconds"),
        ({"max_segment_seconds": 0.0}, "max_segment_seconds must be positive"),
        ({"max_segment_seconds": -5.0}, "max_segment_seconds must be positive"),
        ({"max_segment_seconds": float("nan")}, "must be a finite number"),
        ({"target_segment_seconds": 0.0}, "target_segment_seconds must be positive"),
        ({"min_pause_seconds": -1.0}, "min_pause_seconds must not be negative"),
    ],
)
def test_invalid_parameters(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_segments(10.0, [(1.0, 2.0)], **kwargs)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="duration must be a positive"):
        plan_segments(0.0, [])
    with pytest.raises(ValueError, match="ends before it starts"):
        plan_segments(10.0, [(5.0, 4.0)])


def test_spans_are_clipped_and_merged() -> None:
    assert normalize_spans([(8.0, 12.0), (-1.0, 2.0), (1.5, 3.0), (3.0, 4.0)], 10.0) == [
        (0.0, 4.0),
        (8.0, 10.0),
    ]


def _random_spans(rng: random.Random, duration: float) -> list[tuple[float, float]]:
    spans, t = [], rng.uniform(0.0, 3.0)
    while t < duration:
        kind = rng.random()
        # Mostly sentences, sometimes runs of speech far over the maximum.
        speech = rng.uniform(0.2, 8.0) if kind < 0.85 else rng.uniform(20.0, 90.0)
        spans.append((t, t + speech))
        gap = rng.choice([rng.uniform(0.01, 0.15), rng.uniform(0.1, 1.5), rng.uniform(2.0, 60.0)])
        t += speech + gap
    return spans


@pytest.mark.parametrize("seed", range(400))
def test_random_recordings_obey_all_properties(seed: int) -> None:
    rng = random.Random(seed)
    duration = rng.choice([rng.uniform(0.5, 40.0), rng.uniform(40.0, 900.0)])
    spans = _random_spans(rng, duration)
    max_len = rng.choice([30.0, rng.uniform(3.0, 60.0)])
    overlap = rng.choice([0.5, 0.0, rng.uniform(0.0, max_len * 0.9)])
    min_pause = rng.choice([0.1, rng.uniform(0.0, 1.0)])
    min_segment = rng.choice([1.0, rng.uniform(0.05, 5.0)])
    kwargs = {
        "max_segment_seconds": max_len,
        "overlap_seconds": overlap,
        "min_pause_seconds": min_pause,
        "min_segment_seconds": min_segment,
    }
    plan = plan_segments(
        duration,
        spans,
        target_segment_seconds=rng.uniform(2.0, 40.0),
        long_silence_seconds=rng.uniform(1.0, 10.0),
        **kwargs,
    )
    assert_plan_properties(plan, duration, spans, **kwargs)
