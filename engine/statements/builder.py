"""A worker's monthly income statement, before signing: tasks, engine-measured working time,
earnings, payouts and benefits.

Working time is the engine's own measure: for each lease the worker submitted, from the lease's
start to its submission (never past the lease's expiry), summed in whole seconds. Browser
timers (``time_spent_seconds``) are never used. Money comes from the ledger's entries on the
worker's accounts (pending, available, benefits), per currency, in integer minor units.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.domain.lease_rules import as_utc
from engine.domain.ledger import AccountKind, JournalEntry, TransactionKind, balance_change
from engine.domain.money import Money
from engine.errors import KaziError
from engine.statements.repository import SubmittedLease
from engine.unit_of_work import UnitOfWork

FORMAT = "kazi.income-statement.v1"
# Jobs and payouts listed one by one (the rest are in the totals): a statement stays well
# under the verify route's 64 KiB body limit, even pretty-printed.
MAX_LISTED = 100
MAX_PAYOUTS_LISTED = 50
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_WORKER_KINDS = {
    AccountKind.WORKER_PENDING: "pending",
    AccountKind.WORKER_AVAILABLE: "available",
    AccountKind.WORKER_BENEFITS: "benefits",
}


class BadMonth(KaziError):
    status = 422
    code = "invalid_month"


class WorkerNotFound(KaziError):
    status = 404
    code = "worker_not_found"


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` → [first instant, first instant of the next month), UTC."""
    match = _MONTH.fullmatch(month) if isinstance(month, str) else None
    if match is None or not 2000 <= int(match.group(1)) <= 9998:
        raise BadMonth("month is YYYY-MM (2000-01 to 9998-12), e.g. 2026-11")
    year, number = int(match.group(1)), int(match.group(2))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def iso(moment: datetime) -> str:
    value = as_utc(moment)
    assert value is not None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def lease_seconds(lease: SubmittedLease) -> int:
    start, end, expiry = as_utc(lease.created_at), as_utc(lease.ended_at), as_utc(lease.expires_at)
    assert start is not None and end is not None and expiry is not None
    return max(0, int((min(end, expiry) - start).total_seconds()))


def duration_text(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min"


@dataclass
class _CurrencyTotals:
    earned: int = 0
    corrections: int = 0
    released: int = 0
    paid_out: int = 0
    returned: int = 0
    benefits_saved: int = 0
    benefits_matched: int = 0
    other: int = 0
    closing: dict[str, int] = field(
        default_factory=lambda: {"pending": 0, "available": 0, "benefits": 0}
    )


def _worker_changes(entry: JournalEntry, worker_id: str) -> dict[str, tuple[str, int]]:
    """account name -> (currency, change) for the worker's own accounts."""
    out: dict[str, tuple[str, int]] = {}
    for ref, delta in balance_change(entry).items():
        if ref.owner == worker_id and ref.kind in _WORKER_KINDS:
            name = _WORKER_KINDS[ref.kind]
            currency, before = out.get(name, (ref.currency, 0))
            out[name] = (currency, before + delta)
    return out


_EARNING_KINDS = {TransactionKind.EARN, TransactionKind.REVIEW_EARN, TransactionKind.TRAINING_EARN}


def _classify(totals: _CurrencyTotals, entry: JournalEntry, changes: dict[str, int]) -> None:
    pending = changes.get("pending", 0)
    available = changes.get("available", 0)
    benefits = changes.get("benefits", 0)
    net = pending + available + benefits
    if entry.kind in _EARNING_KINDS:
        totals.earned += net
    elif entry.kind is TransactionKind.REVERSAL:
        totals.corrections += net
    elif entry.kind is TransactionKind.RELEASE_HOLD:
        totals.released += available
    elif entry.kind is TransactionKind.PAYOUT:
        totals.paid_out += -net
        totals.benefits_saved += benefits
    elif entry.kind is TransactionKind.PAYOUT_FAILED:
        totals.returned += net
    elif entry.kind is TransactionKind.BENEFITS_MATCH:
        totals.benefits_matched += benefits
    else:
        totals.other += net


def _by_currency(entry: JournalEntry, worker_id: str) -> dict[str, dict[str, int]]:
    per: dict[str, dict[str, int]] = {}
    for name, (currency, delta) in _worker_changes(entry, worker_id).items():
        per.setdefault(currency, {})[name] = delta
    return per


def _money(currency: str, minor: int) -> dict[str, object]:
    return Money(currency, minor).as_json()


def build_statement(
    uow: UnitOfWork,
    worker_id: str,
    month: str,
    *,
    issuer_url: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The unsigned statement of ``worker_id`` for ``month`` (YYYY-MM)."""
    since, until = month_bounds(month)
    worker = uow.workers.get(worker_id)
    if worker is None:
        raise WorkerNotFound(f"worker {worker_id} not found")
    repo = uow.statements
    leases = repo.submitted_leases(worker_id, since, until)
    answers = repo.answers_per_job(worker_id, since, until)
    reviews = repo.reviews_per_job(worker_id, since, until)
    seconds_per_job: dict[str, int] = {}
    for lease in leases:
        seconds_per_job[lease.job_id] = seconds_per_job.get(lease.job_id, 0) + lease_seconds(lease)
    job_ids = sorted(set(answers) | set(reviews) | set(seconds_per_job))
    kinds = repo.job_kinds(job_ids)
    jobs = [
        {
            "job_id": job_id,
            "kind": kinds.get(job_id, "unknown"),
            "answers": answers.get(job_id, (0, 0))[0],
            "gold_answers": answers.get(job_id, (0, 0))[1],
            "reviews": reviews.get(job_id, 0),
            "working_seconds": seconds_per_job.get(job_id, 0),
        }
        for job_id in job_ids
    ]
    jobs.sort(key=lambda j: (-int(str(j["working_seconds"])), str(j["job_id"])))
    working = sum(seconds_per_job.values())

    totals: dict[str, _CurrencyTotals] = {}
    payouts: list[dict[str, Any]] = []
    for posted in uow.ledger.entries_for(worker_id, None, until):
        per = _by_currency(posted.entry, worker_id)
        posted_at = as_utc(posted.posted_at)
        in_period = posted_at is not None and posted_at >= since
        for currency, changes in per.items():
            t = totals.setdefault(currency, _CurrencyTotals())
            for name, delta in changes.items():
                t.closing[name] += delta
            if in_period:
                _classify(t, posted.entry, changes)
                if posted.entry.kind is TransactionKind.PAYOUT:
                    net = sum(changes.values())
                    payouts.append(
                        {
                            "reference": posted.entry.idempotency_key,
                            "posted_at": iso(posted.posted_at),
                            "sent": _money(currency, -net),
                            "to_benefits": _money(currency, changes.get("benefits", 0)),
                        }
                    )
    money = [_money_block(currency, totals[currency]) for currency in sorted(totals)]
    return {
        "format": FORMAT,
        "statement_id": str(uuid.uuid4()),
        "issued_at": iso(now or datetime.now(UTC)),
        "issuer": {"name": "Kazi engine", "url": issuer_url},
        "worker": {"id": worker.id, "handle": worker.handle},
        "period": {"month": month, "from": iso(since), "until": iso(until)},
        "work": {
            "answers": sum(a for a, _ in answers.values()),
            "gold_answers": sum(g for _, g in answers.values()),
            "reviews": sum(reviews.values()),
            "submitted_leases": len(leases),
            "working_seconds": working,
            "working_time": duration_text(working),
            "measured_by": "the engine's leases: from each lease to its submission, capped at "
            "the lease's expiry (no browser timers)",
            "jobs": jobs[:MAX_LISTED],
            "jobs_not_listed": max(0, len(jobs) - MAX_LISTED),
        },
        "money": money,
        "payouts": payouts[:MAX_PAYOUTS_LISTED],
        "payouts_not_listed": max(0, len(payouts) - MAX_PAYOUTS_LISTED),
    }


def _money_block(currency: str, t: _CurrencyTotals) -> dict[str, Any]:
    return {
        "currency": currency,
        "earned": _money(currency, t.earned),
        "corrections": _money(currency, t.corrections),
        "net_earnings": _money(currency, t.earned + t.corrections),
        "released_to_available": _money(currency, t.released),
        "paid_out": _money(currency, t.paid_out),
        "payouts_returned": _money(currency, t.returned),
        "benefits_saved": _money(currency, t.benefits_saved),
        "benefits_matched": _money(currency, t.benefits_matched),
        "other": _money(currency, t.other),
        "closing_balances": {name: _money(currency, v) for name, v in t.closing.items()},
    }
