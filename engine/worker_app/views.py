"""Read-only use cases behind the app's pages: home, feedback, earnings and payouts.

They reuse the worker API's services (engine/quality/feedback.py, engine/earnings/service.py,
engine/payouts) and shape their answers for templates: money as ``Money`` (formatted per locale
by the templates), never floats.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.domain.money import Money
from engine.domain.worker_skill import SkillEstimate, TierPolicy, estimate_skill
from engine.earnings.service import earnings_for_worker
from engine.quality.feedback import feedback_for_worker
from engine.unit_of_work import UnitOfWork
from engine.worker_app.progress import NextTier, next_tier

RECENT_ON_HOME = 5


def money_of(value: dict[str, Any] | None) -> Money | None:
    """The API's money JSON ({"currency", "minor", "text"}) back as Money."""
    if value is None:
        return None
    return Money(str(value["currency"]), int(value["minor"]))


def training_summary_of(uow: UnitOfWork, worker_id: str) -> Any:
    """The training path's summary for the home page, if the training module is installed."""
    try:
        module = importlib.import_module("engine.training.service")
    except ModuleNotFoundError as missing:
        if missing.name in {"engine.training", "engine.training.service"}:
            return None
        raise
    summary = getattr(module, "training_summary", None)
    return summary(uow, worker_id) if callable(summary) else None


@dataclass(frozen=True)
class HomeView:
    tier: str
    status: str
    skill: SkillEstimate
    next_tier: NextTier | None
    recent: list[dict[str, Any]]
    training: Any


def home_view(uow: UnitOfWork, worker_id: str, policy: TierPolicy) -> HomeView:
    worker = uow.workers.get(worker_id)
    assert worker is not None
    scores = uow.quality.worker_scores([worker_id])[worker_id]
    skill = estimate_skill(scores, policy)
    return HomeView(
        tier=worker.tier,
        status=worker.status,
        skill=skill,
        next_tier=next_tier(worker.tier, skill, policy),
        recent=feedback_for_worker(uow, worker_id, RECENT_ON_HOME),
        training=training_summary_of(uow, worker_id),
    )


@dataclass(frozen=True)
class Balance:
    currency: str
    pending: Money
    available: Money
    benefits: Money


@dataclass(frozen=True)
class PayoutLine:
    created_at: datetime
    state: str
    net: Money
    provider: str


@dataclass(frozen=True)
class EarningsPage:
    balances: list[Balance]
    answers: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    payouts: list[PayoutLine] = field(default_factory=list)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def earnings_view(uow: UnitOfWork, worker_id: str, limit: int = 50) -> EarningsPage:
    found = earnings_for_worker(uow, worker_id, limit)
    balances = [
        Balance(
            b["currency"],
            Money(b["currency"], int(b["pending"]["minor"])),
            Money(b["currency"], int(b["available"]["minor"])),
            Money(b["currency"], int(b["benefits"]["minor"])),
        )
        for b in found["balances"]
    ]
    answers = [{**a, "money": money_of(a.get("amount"))} for a in found["answers"]]
    reviews = [{**r, "money": money_of(r.get("amount"))} for r in found["reviews"]]
    payouts = [
        PayoutLine(_aware(p.created_at), p.state, Money(p.currency, p.net_minor), p.provider)
        for p in reversed(uow.payouts.payouts_of_worker(worker_id))
    ]
    return EarningsPage(balances, answers, reviews, payouts)


def statement_months(uow: UnitOfWork, worker_id: str, now: datetime, count: int = 12) -> list[str]:
    """The months a statement can be asked for: since the worker joined, newest first."""
    worker = uow.workers.get(worker_id)
    joined = _aware(worker.created_at) if worker is not None else now
    months: list[str] = []
    year, month = now.year, now.month
    while len(months) < count and (year, month) >= (joined.year, joined.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months
