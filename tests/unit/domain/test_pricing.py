"""The pure quote: tasks × overlap × rate, reviews, gold, the fee; the lines always add up."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.job_stage import JobKind
from engine.domain.money import Money
from engine.domain.pricing import (
    LineCode,
    MediaItem,
    PricingError,
    QuoteInputs,
    RateUnit,
    estimated_segments,
    price_job,
    ratio_bps,
)


def _inputs(**changes: object) -> QuoteInputs:
    base: dict[str, object] = dict(
        kind=JobKind.IMAGE_CLASSIFICATION,
        unit=RateUnit.TASK,
        rate=Money("KES", 1000),
        training_rate=Money("KES", 0),
        review_rate=Money("KES", 200),
        overlap=3,
        gold_ratio_bps=0,
        max_segment_ms=30_000,
        segment_overlap_ms=500,
        media=tuple(MediaItem(f"{i}.png") for i in range(10)),
        review_sample_bps=500,
        low_agreement_bps=1000,
        platform_fee_bps=1500,
    )
    base.update(changes)
    return QuoteInputs(**base)  # type: ignore[arg-type]


def _line(quote, code: LineCode):  # type: ignore[no-untyped-def]
    return next(line for line in quote.lines if line.code is code)


def test_tasks_times_overlap_times_rate_plus_reviews_and_fee() -> None:
    quote = price_job(_inputs())
    assert _line(quote, LineCode.ANSWERS).amount == Money("KES", 10 * 3 * 1000)
    # 15 % of 10 tasks reviewed, rounded up: 2 reviews at KES 2.00.
    assert _line(quote, LineCode.REVIEWS).quantity == 2
    assert _line(quote, LineCode.REVIEWS).amount == Money("KES", 400)
    assert quote.subtotal == Money("KES", 30_400)
    assert quote.fee == Money("KES", 4560)  # 15 % of 304.00
    assert quote.total == Money("KES", 34_960)
    assert quote.counts["answers"] == 30
    assert any("15 %" in a for a in quote.assumptions)


def test_audio_minutes_count_segment_lengths_and_their_overlap() -> None:
    # 60 s at ~12 s a segment: 5 segments sharing 4 × 0.5 s; 62 s of audio is paid per answer.
    inputs = _inputs(
        kind=JobKind.TRANSCRIPTION, unit=RateUnit.AUDIO_MINUTE, overlap=2,
        rate=Money("KES", 600), media=(MediaItem("a.flac", duration_ms=60_000),),
    )  # fmt: skip
    quote = price_job(inputs)
    assert quote.counts["tasks"] == 5
    assert quote.counts["audio_ms"] == 62_000
    # 2 answers × 62 s × KES 6.00 a minute = KES 12.40.
    assert _line(quote, LineCode.ANSWERS).amount == Money("KES", 1240)
    assert any("segments" in a for a in quote.assumptions)


def test_boxes_use_the_stated_per_image_assumption() -> None:
    inputs = _inputs(
        kind=JobKind.IMAGE_BOXES, unit=RateUnit.BOX, rate=Money("KES", 50), boxes_per_image=4,
        media=(MediaItem("a.png", width=800, height=600), MediaItem("b.png")),
    )  # fmt: skip
    quote = price_job(inputs)
    assert _line(quote, LineCode.ANSWERS).quantity == 2 * 4 * 3
    assert _line(quote, LineCode.ANSWERS).amount == Money("KES", 24 * 50)
    assert any("4 boxes" in a for a in quote.assumptions)


def test_large_images_become_tiles() -> None:
    quote = price_job(_inputs(media=(MediaItem("big.png", width=5000, height=3000),)))
    assert quote.counts["tasks"] > 1


def test_gold_is_priced_at_the_training_rate_from_the_gold_ratio() -> None:
    media = tuple(MediaItem(f"{i}.png") for i in range(9)) + (MediaItem("gold.png"),)
    quote = price_job(
        _inputs(
            media=media, gold_filenames=frozenset({"gold.png"}), gold_ratio_bps=2000,
            training_rate=Money("KES", 300),
        )
    )  # fmt: skip
    # 9 regular tasks × 3 = 27 answers; gold 20 % of all: 27 × 0.2 / 0.8 = 6.75 → 7.
    assert quote.counts["gold_answers"] == 7
    assert _line(quote, LineCode.GOLD).amount == Money("KES", 2100)


def test_a_currency_without_minor_units() -> None:
    quote = price_job(
        _inputs(rate=Money("UGX", 333), training_rate=Money("UGX", 0),
                review_rate=Money("UGX", 0), platform_fee_bps=1000)
    )  # fmt: skip
    assert quote.currency == "UGX"
    assert quote.fee == Money("UGX", 999)  # 10 % of 9990


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"review_rate": Money("USD", 1)}, "one currency"),
        ({"unit": RateUnit.BOX}, "per box"),
        ({"unit": RateUnit.AUDIO_MINUTE}, "audio minute"),
        ({"media": ()}, "at least one file"),
        ({"media": (MediaItem("a.png", duration_ms=5),)}, "no duration"),
        ({"media": (MediaItem("a.png", width=5),)}, "both width and height"),
        ({"kind": JobKind.TRANSCRIPTION, "media": (MediaItem("a.wav"),)}, "duration_ms"),
        ({"kind": JobKind.TRANSCRIPTION, "media": (MediaItem("a.wav", duration_ms=0),)}, "1.."),
        ({"rate": Money("KES", -1)}, "negative"),
        ({"platform_fee_bps": 10_001}, "basis points"),
        ({"gold_ratio_bps": 10_000}, "below 1"),
        ({"overlap": 0}, "overlap"),
    ],
)
def test_inputs_a_quote_refuses(changes: dict[str, object], message: str) -> None:
    with pytest.raises(PricingError, match=message):
        price_job(_inputs(**changes))


def test_segments_estimate() -> None:
    assert estimated_segments(1, 30_000, 500) == 1
    assert estimated_segments(12_000, 30_000, 500) == 1
    assert estimated_segments(120_000, 30_000, 500) == 10
    # A maximum under the 12 s target bounds the segment length.
    assert estimated_segments(100_000, 5_000, 500) == 23
    assert ratio_bps(0.1) == 1000 and ratio_bps(0.0) == 0


_currency = st.sampled_from(["KES", "UGX", "JOD", "USD"])


@settings(max_examples=200, deadline=None)
@given(
    currency=_currency,
    kind_unit=st.sampled_from(
        [
            (JobKind.TRANSCRIPTION, RateUnit.TASK),
            (JobKind.TRANSCRIPTION, RateUnit.AUDIO_MINUTE),
            (JobKind.IMAGE_BOXES, RateUnit.BOX),
            (JobKind.IMAGE_CLASSIFICATION, RateUnit.TASK),
        ]
    ),
    rate=st.integers(0, 10**7),
    training=st.integers(0, 10**6),
    review=st.integers(0, 10**6),
    overlap=st.integers(1, 15),
    gold_ratio=st.integers(0, 9999),
    fee=st.integers(0, 10_000),
    durations=st.lists(st.integers(1, 4 * 3_600_000), min_size=1, max_size=8),
    gold_count=st.integers(0, 3),
    boxes=st.integers(0, 50),
)
def test_the_lines_always_add_up_to_the_total(  # type: ignore[no-untyped-def]
    currency, kind_unit, rate, training, review, overlap, gold_ratio, fee, durations,
    gold_count, boxes,
) -> None:  # fmt: skip
    kind, unit = kind_unit
    if kind is JobKind.TRANSCRIPTION:
        media = tuple(MediaItem(f"{i}.wav", duration_ms=d) for i, d in enumerate(durations))
    else:
        media = tuple(
            MediaItem(f"{i}.png", width=1 + d % 6000, height=1 + d % 4000)
            for i, d in enumerate(durations)
        )
    gold = frozenset(m.filename for m in media[:gold_count])
    quote = price_job(
        _inputs(
            kind=kind, unit=unit, rate=Money(currency, rate),
            training_rate=Money(currency, training), review_rate=Money(currency, review),
            overlap=overlap, gold_ratio_bps=gold_ratio, platform_fee_bps=fee, media=media,
            gold_filenames=gold, boxes_per_image=boxes,
        )
    )  # fmt: skip
    total = sum(line.amount.minor for line in quote.lines)
    assert total == quote.total.minor
    assert quote.subtotal + quote.fee == quote.total
    assert all(
        isinstance(line.amount.minor, int) and line.amount.minor >= 0 for line in quote.lines
    )
    assert quote.fee == quote.subtotal.share(fee, 10_000)
    # The answers line never charges more than the exact amount rounded up by one unit.
    if unit is RateUnit.TASK:
        assert quote.lines[0].amount.minor == rate * quote.counts["answers"]
