"""Rules for handing out work (pure): gold mixing, lease expiry, late submits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class WorkerTier(StrEnum):
    TRAINEE = "trainee"
    QUALIFIED = "qualified"
    REVIEWER = "reviewer"


def gold_ratio_for(job_ratio: float, tier: WorkerTier, trainee_min_ratio: float) -> float:
    """Trainees see gold at least ``trainee_min_ratio`` of the time, so their skill is known
    early; others see the job's ratio."""
    if tier is WorkerTier.TRAINEE:
        return max(job_ratio, trainee_min_ratio)
    return job_ratio


def serve_gold(draw: float, ratio: float) -> bool:
    """``draw`` is uniform in [0, 1): the caller owns the randomness, so this stays testable."""
    return draw < ratio


def lease_expiry(now: datetime, lease_seconds: float) -> datetime:
    return now + timedelta(seconds=lease_seconds)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def is_live(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at > now


class SlotState(StrEnum):
    OPEN = "open"
    LEASED = "leased"
    ANSWERED = "answered"


@dataclass(frozen=True)
class SlotView:
    state: SlotState
    lease_id: str | None
    expires_at: datetime | None


def slot_is_free(slot: SlotView, now: datetime) -> bool:
    """A slot can be leased when open, or when its lease ran out (no lock ever stays stuck)."""
    if slot.state is SlotState.OPEN:
        return True
    return slot.state is SlotState.LEASED and not is_live(slot.expires_at, now)


def submit_keeps_own_slot(slot: SlotView, lease_id: str) -> bool:
    """A submit fills the slot its lease was for while nobody else took it, even if late."""
    return slot.state is SlotState.LEASED and slot.lease_id == lease_id
