"""What a job will cost before it runs (pure): tasks × overlap × rate, the review sample, gold
(training) answers and the platform fee, with every assumption written down.

All amounts are integer minor units (``Money``); counts are integers; durations are integer
milliseconds. Every line is rounded once (half up) and the total is the sum of the lines, so a
quote always adds up. The quote is an estimate: delivery charges what was actually earned
(engine/billing/service.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from engine.domain.job_stage import JobKind
from engine.domain.money import Money, MoneyError
from engine.domain.tiling import (
    DEFAULT_OVERLAP_PX,
    DEFAULT_THRESHOLD_PX,
    DEFAULT_TILE_PX,
    plan_tiles,
)

BPS = 10_000
MS_PER_MINUTE = 60_000
# The split plan aims at segments of about 12 s (engine/domain/split_plan.py).
TARGET_SEGMENT_MS = 12_000
# Results under the agreement threshold go to review on top of the random sample; the share
# of those is unknown before the job runs: this is what a quote assumes.
DEFAULT_LOW_AGREEMENT_BPS = 1_000
DEFAULT_BOXES_PER_IMAGE = 5
MAX_DURATION_MS = 24 * 3_600_000  # one file: a day of audio at most
MAX_IMAGE_SIDE = 1_000_000


class PricingError(ValueError):
    """Inputs a quote cannot be made from."""


class RateUnit(StrEnum):
    TASK = "task"
    AUDIO_MINUTE = "audio_minute"
    BOX = "box"


class LineCode(StrEnum):
    ANSWERS = "answers"  # regular answers: tasks × overlap × rate
    REVIEWS = "reviews"  # the review sample, at the review rate
    GOLD = "gold"  # gold/training answers, at the training rate
    PLATFORM_FEE = "platform_fee"


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One file of the job as the quote sees it: audio by duration, images by size (or
    unknown size: one task)."""

    filename: str
    duration_ms: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Tiling:
    threshold_px: int = DEFAULT_THRESHOLD_PX
    tile_px: int = DEFAULT_TILE_PX
    overlap_px: int = DEFAULT_OVERLAP_PX


@dataclass(frozen=True, slots=True)
class QuoteInputs:
    kind: JobKind
    unit: RateUnit
    rate: Money  # per unit, per answer
    training_rate: Money  # per unit, per gold answer
    review_rate: Money  # per review
    overlap: int
    gold_ratio_bps: int  # share of a worker's leases that are gold
    max_segment_ms: int
    segment_overlap_ms: int
    media: tuple[MediaItem, ...]
    gold_filenames: frozenset[str] = frozenset()
    review_sample_bps: int = 500
    low_agreement_bps: int = DEFAULT_LOW_AGREEMENT_BPS
    boxes_per_image: int = DEFAULT_BOXES_PER_IMAGE
    platform_fee_bps: int = 1_500
    tiling: Tiling = field(default_factory=Tiling)


@dataclass(frozen=True, slots=True)
class QuoteLine:
    code: LineCode
    description: str
    quantity: int  # units of ``unit`` (milliseconds for audio minutes)
    unit: str  # "answer", "audio_ms", "box", "review", "bps"
    amount: Money


@dataclass(frozen=True, slots=True)
class Quote:
    currency: str
    lines: tuple[QuoteLine, ...]
    assumptions: tuple[str, ...]
    counts: dict[str, int]

    @property
    def subtotal(self) -> Money:
        return _sum(self.currency, (x for x in self.lines if x.code is not LineCode.PLATFORM_FEE))

    @property
    def fee(self) -> Money:
        return _sum(self.currency, (x for x in self.lines if x.code is LineCode.PLATFORM_FEE))

    @property
    def total(self) -> Money:
        return _sum(self.currency, self.lines)


def _sum(currency: str, lines: Iterable[QuoteLine]) -> Money:
    total = Money.zero(currency)
    for line in lines:
        total = total + line.amount
    return total


def ratio_bps(ratio: float) -> int:
    """A spec's ratio (a float in [0, 1]) as whole basis points, rounded half up; counts only,
    never money."""
    if not 0.0 <= ratio <= 1.0:
        raise PricingError(f"a ratio lies in [0, 1], not {ratio}")
    return int(ratio * BPS + 0.5)


def estimated_segments(duration_ms: int, max_segment_ms: int, overlap_ms: int) -> int:
    """How many tasks a recording becomes: the split plan aims at ~12 s segments, never longer
    than the maximum."""
    if duration_ms <= 0:
        return 0
    target = min(TARGET_SEGMENT_MS, max_segment_ms)
    stride = max(max_segment_ms - overlap_ms, 1)
    by_max = -(-max(duration_ms - overlap_ms, 1) // stride)  # ceil
    by_target = (duration_ms + target // 2) // target  # rounded
    return max(1, by_max, by_target)


def _check(inputs: QuoteInputs) -> None:
    currencies = {inputs.rate.currency, inputs.training_rate.currency, inputs.review_rate.currency}
    if len(currencies) != 1:
        raise PricingError(f"a quote uses one currency, got {sorted(currencies)}")
    for name, money in (
        ("rate", inputs.rate),
        ("training rate", inputs.training_rate),
        ("review rate", inputs.review_rate),
    ):
        if money.is_negative():
            raise PricingError(f"the {name} cannot be negative")
    if inputs.unit is RateUnit.BOX and inputs.kind is not JobKind.IMAGE_BOXES:
        raise PricingError("a rate per box is for image_boxes jobs")
    if inputs.unit is RateUnit.AUDIO_MINUTE and inputs.kind is not JobKind.TRANSCRIPTION:
        raise PricingError("a rate per audio minute is for transcription jobs")
    if inputs.overlap < 1:
        raise PricingError("overlap is at least 1")
    for name, bps in (
        ("gold ratio", inputs.gold_ratio_bps),
        ("review sample", inputs.review_sample_bps),
        ("low-agreement share", inputs.low_agreement_bps),
        ("platform fee", inputs.platform_fee_bps),
    ):
        if not 0 <= bps <= BPS:
            raise PricingError(f"the {name} is 0-10000 basis points, not {bps}")
    if inputs.gold_ratio_bps >= BPS:
        raise PricingError("the gold ratio must be below 1")
    if inputs.boxes_per_image < 0:
        raise PricingError("boxes per image cannot be negative")
    if inputs.max_segment_ms <= 0 or not 0 <= inputs.segment_overlap_ms < inputs.max_segment_ms:
        raise PricingError("segments need a positive maximum longer than their overlap")
    if not inputs.media:
        raise PricingError("a quote needs at least one file")
    audio = inputs.kind is JobKind.TRANSCRIPTION
    for item in inputs.media:
        if audio:
            if item.duration_ms is None or item.width is not None or item.height is not None:
                raise PricingError(f"{item.filename!r}: audio is described by duration_ms only")
            if not 0 < item.duration_ms <= MAX_DURATION_MS:
                raise PricingError(f"{item.filename!r}: duration_ms must be 1..{MAX_DURATION_MS}")
        else:
            if item.duration_ms is not None:
                raise PricingError(f"{item.filename!r}: images have no duration")
            if (item.width is None) != (item.height is None):
                raise PricingError(f"{item.filename!r}: give both width and height, or neither")
            for side in (item.width, item.height):
                if side is not None and not 0 < side <= MAX_IMAGE_SIDE:
                    raise PricingError(f"{item.filename!r}: sides are 1..{MAX_IMAGE_SIDE} px")


@dataclass
class _Units:
    tasks: int = 0
    paid_audio_ms: int = 0  # segment lengths summed (segments overlap)
    images: int = 0


def _units(inputs: QuoteInputs, items: Sequence[MediaItem]) -> _Units:
    units = _Units()
    for item in items:
        if inputs.kind is JobKind.TRANSCRIPTION:
            assert item.duration_ms is not None
            n = estimated_segments(
                item.duration_ms, inputs.max_segment_ms, inputs.segment_overlap_ms
            )
            units.tasks += n
            units.paid_audio_ms += item.duration_ms + (n - 1) * inputs.segment_overlap_ms
        else:
            units.images += 1
            if item.width is None or item.height is None:
                units.tasks += 1
            else:
                t = inputs.tiling
                units.tasks += len(
                    plan_tiles(
                        item.width, item.height,
                        threshold_px=t.threshold_px, tile_px=t.tile_px, overlap_px=t.overlap_px,
                    )
                )  # fmt: skip
    return units


def _pay(inputs: QuoteInputs, rate: Money, answers: int, units: _Units) -> tuple[Money, int, str]:
    """What ``answers`` answers earn at ``rate``, given the units of the tasks they answer
    (each answer of a task earns what the task is worth): (amount, quantity, unit)."""
    if inputs.unit is RateUnit.TASK:
        return rate.times(answers), answers, "answer"
    if units.tasks == 0:
        return Money.zero(rate.currency), 0, inputs.unit.value
    if inputs.unit is RateUnit.AUDIO_MINUTE:
        # answers × (mean paid ms per task) minutes, rounded once.
        quantity_ms = answers * units.paid_audio_ms  # divided by tasks below
        amount = Money(rate.currency, rate.minor * quantity_ms).share(
            1, units.tasks * MS_PER_MINUTE
        )
        return amount, (quantity_ms + units.tasks // 2) // units.tasks, "audio_ms"
    # Boxes: the assumption is per image, spread over its tiles.
    boxes = (answers * units.images * inputs.boxes_per_image + units.tasks // 2) // units.tasks
    return rate.times(boxes), boxes, "box"


def _ceil_share(count: int, bps: int) -> int:
    return -(-count * bps // BPS)


def price_job(inputs: QuoteInputs) -> Quote:
    """The quote: one line per kind of pay and the platform fee; raises PricingError."""
    _check(inputs)
    try:
        return _price(inputs)
    except MoneyError as error:
        raise PricingError(str(error)) from None


def _price(inputs: QuoteInputs) -> Quote:
    currency = inputs.rate.currency
    regular_items = [m for m in inputs.media if m.filename not in inputs.gold_filenames]
    gold_items = [m for m in inputs.media if m.filename in inputs.gold_filenames]
    regular = _units(inputs, regular_items)
    gold = _units(inputs, gold_items)

    answers = regular.tasks * inputs.overlap
    work, work_qty, work_unit = _pay(inputs, inputs.rate, answers, regular)

    review_bps = min(BPS, inputs.review_sample_bps + inputs.low_agreement_bps)
    reviews = _ceil_share(regular.tasks, review_bps)
    review_pay = inputs.review_rate.times(reviews)

    gold_answers = 0
    if gold.tasks and inputs.gold_ratio_bps:
        # gold makes up ratio of all leases: gold = regular × r / (1 − r), rounded up.
        num = answers * inputs.gold_ratio_bps
        gold_answers = -(-num // (BPS - inputs.gold_ratio_bps))
    gold_pay, gold_qty, gold_unit = _pay(inputs, inputs.training_rate, gold_answers, gold)

    subtotal = work + review_pay + gold_pay
    fee = subtotal.share(inputs.platform_fee_bps, BPS)
    lines = (
        QuoteLine(
            LineCode.ANSWERS, _work_text(inputs, regular, answers), work_qty, work_unit, work
        ),
        QuoteLine(
            LineCode.REVIEWS,
            f"{reviews} reviews at {inputs.review_rate.format()} each",
            reviews, "review", review_pay,
        ),
        QuoteLine(
            LineCode.GOLD,
            f"{gold_answers} gold (training) answers at {inputs.training_rate.format()} "
            f"per {inputs.unit.value.replace('_', ' ')}",
            gold_qty, gold_unit, gold_pay,
        ),
        QuoteLine(
            LineCode.PLATFORM_FEE,
            f"platform fee {_percent(inputs.platform_fee_bps)} of {subtotal.format()}",
            inputs.platform_fee_bps, "bps", fee,
        ),
    )  # fmt: skip
    counts = {
        "files": len(regular_items),
        "gold_files": len(gold_items),
        "tasks": regular.tasks,
        "gold_tasks": gold.tasks,
        "answers": answers,
        "reviews": reviews,
        "gold_answers": gold_answers,
        "audio_ms": regular.paid_audio_ms,
    }
    return Quote(currency, lines, _assumptions(inputs, review_bps), counts)


def _work_text(inputs: QuoteInputs, units: _Units, answers: int) -> str:
    per = inputs.unit.value.replace("_", " ")
    return (
        f"{units.tasks} tasks × {inputs.overlap} answers = {answers} answers at "
        f"{inputs.rate.format()} per {per}"
    )


def _percent(bps: int) -> str:
    whole, rest = divmod(bps, 100)
    return f"{whole}.{rest:02d} %" if rest else f"{whole} %"


def _assumptions(inputs: QuoteInputs, review_bps: int) -> tuple[str, ...]:
    found = [
        f"each task gets {inputs.overlap} answers from distinct workers (the spec's overlap)",
        f"{_percent(review_bps)} of tasks are reviewed: the random sample "
        f"({_percent(inputs.review_sample_bps)}) plus results under the agreement threshold "
        f"(assumed {_percent(inputs.low_agreement_bps)})",
        "the delivered job is charged what its workers actually earned, plus the fee; the "
        "difference from this quote is returned to (or taken from) the prepaid balance",
        "taxes, when configured, are added on the invoice",
    ]
    if inputs.kind is JobKind.TRANSCRIPTION:
        found.insert(
            0,
            f"recordings are cut into segments of about {TARGET_SEGMENT_MS // 1000} s (at most "
            f"{inputs.max_segment_ms} ms), neighbours sharing {inputs.segment_overlap_ms} ms; "
            "segment lengths are paid, so the shared audio counts twice",
        )
    else:
        found.insert(
            0,
            f"an image is one task; one longer than {inputs.tiling.threshold_px} px is cut into "
            f"tiles of {inputs.tiling.tile_px} px (an image of unknown size: one task)",
        )
    if inputs.unit is RateUnit.BOX:
        found.insert(1, f"each image holds {inputs.boxes_per_image} boxes (assumed)")
    if inputs.gold_filenames:
        found.append(
            f"gold tasks make up {_percent(inputs.gold_ratio_bps)} of the answers workers give "
            "(the spec's gold_ratio), paid at the training rate"
        )
    found.append(f"platform fee: {_percent(inputs.platform_fee_bps)} of the workers' pay")
    return tuple(found)
