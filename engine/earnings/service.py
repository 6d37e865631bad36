"""Earnings use cases: post what answers and reviews earn when a task's result becomes final
(in the same transaction as the result), release held earnings, worker disputes, and what a
worker sees of their pay.

Money flows (engine/domain/ledger.py, /work/notes/pay-design.md):
- earn: CLIENT_RESERVED(job) → WORKER_PENDING(worker), key ``earn:answer:<id>`` (or
  ``earn:review:<id>``), posted at most once whatever reruns or redeliveries happen;
- when the job's reservation is short, CLIENT_FUNDS(client) tops it up first, as far as the
  client's floor allows (its stored floor: 0, minus its credit limit, or none for the embedded
  demo tenant, as billing stores it at intake). What the floor does not allow stays a negative
  reservation: work the engine accepted is paid, and the client owes the difference (billing
  settles it at delivery);
- release: WORKER_PENDING → WORKER_AVAILABLE after ``KAZI_PAY_HOLD_DAYS``, unless disputed.
A job without a pay rate posts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.db.ledger_models import EarningDisputeRow
from engine.db.models import AnswerRow, JobRow
from engine.domain.earning_rules import (
    AnswerOutcome,
    Earning,
    EarnPolicy,
    PayRateRule,
    RatePer,
    answer_earning,
    ms_between,
    overturned_earning,
    review_earning,
    score_bps,
)
from engine.domain.lease_rules import WorkerTier
from engine.domain.ledger import (
    AccountKind,
    TransactionKind,
    Transfer,
    client_funds,
    earn_answer_key,
    earn_review_key,
    entry,
    job_reservation,
    release_hold_key,
    reserve_job_key,
    worker_available,
    worker_pending,
)
from engine.domain.money import Money, MoneyError, parse_amount
from engine.earnings.repository import TaskFacts
from engine.errors import KaziError
from engine.ledger import service as ledger
from engine.ledger.errors import InsufficientFunds
from engine.ledger.pay_policy import PayPolicy, pay_policy
from engine.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class AnswerNotFound(KaziError):
    status = 404
    code = "answer_not_found"


class DisputeNotFound(KaziError):
    status = 404
    code = "dispute_not_found"


class AlreadyDisputed(KaziError):
    status = 409
    code = "already_disputed"


class NotDisputable(KaziError):
    status = 409
    code = "not_disputable"


class DisputeDecided(KaziError):
    status = 409
    code = "dispute_decided"


class NotAReviewer(KaziError):
    status = 403
    code = "not_a_reviewer"


class BadDecision(KaziError):
    status = 422
    code = "bad_decision"


# -- the job's rate ------------------------------------------------------------------------


def rate_of(job: JobRow, policy: PayPolicy | None = None) -> PayRateRule | None:
    """The job's pay rate as money (None: the job pays nothing). The spec was validated at
    intake (exact in its currency); a stored spec that no longer parses pays nothing."""
    raw = (job.spec or {}).get("pay_rate")
    if not raw:
        return None
    accept = (policy or pay_policy()).accept_min_score_bps
    try:
        currency = str(raw.get("currency", "USD"))
        amount = parse_amount(str(raw["amount"]), currency)
        extras = {
            name: parse_amount(str(raw.get(name, "0")), currency)
            for name in ("training_amount", "review_amount")
        }
        return PayRateRule(
            amount=amount,
            per=RatePer(raw.get("per", "task")),
            policy=EarnPolicy(raw.get("policy", "accepted_only")),
            training_amount=extras["training_amount"],
            review_amount=extras["review_amount"],
            accept_min_bps=accept,
        )
    except (KeyError, ValueError, MoneyError, AttributeError):
        log.warning("job %s: pay_rate %r does not parse; it pays nothing", job.id, raw)
        return None


def outcome_of(answer: AnswerRow, facts: TaskFacts) -> AnswerOutcome:
    """The rules' view of one answer (floats become integers here, at the boundary)."""
    task = facts.task
    score = facts.scores.get(answer.id)
    reference = task.gold_answer if task.is_gold else facts.final
    boxes = reference.get("boxes") if isinstance(reference, dict) else None
    return AnswerOutcome(
        answer_id=answer.id,
        worker_id=answer.worker_id,
        is_gold=bool(task.is_gold),
        score_bps=score_bps(score.score) if score is not None else None,
        correct=score.correct if score is not None else None,
        segment_ms=ms_between(task.start_seconds, task.end_seconds),
        boxes=len(boxes) if isinstance(boxes, list) else None,
    )


# -- posting -------------------------------------------------------------------------------


def _earn_entry(job: JobRow, earning: Earning, task_id: str, kind: TransactionKind) -> Any:
    cause: dict[str, str | int] = {"job_id": job.id, "task_id": task_id}
    if earning.answer_id is not None:
        cause["answer_id"] = earning.answer_id
    if earning.review_id is not None:
        cause["review_id"] = earning.review_id
    return entry(
        earning.key,
        kind,
        Transfer(
            job_reservation(job.id, earning.amount.currency),
            worker_pending(earning.worker_id, earning.amount.currency),
            earning.amount.minor,
        ),
        memo=earning.reason,
        cause=cause,
    )


def _cover_reservation(uow: UnitOfWork, job: JobRow, needed: Money, first_key: str) -> None:
    """Top the job's reservation up from the client's funds when it holds less than
    ``needed``, as far as the funds' floor allows."""
    reserved = job_reservation(job.id, needed.currency)
    short = needed.minor - uow.ledger.balance(reserved)
    if short <= 0:
        return
    funds = client_funds(job.client_id, needed.currency)
    state = uow.ledger.account(funds)
    balance, floor = (state.balance, state.floor) if state is not None else (0, 0)
    amount = short if floor is None else min(short, balance - floor)
    if amount <= 0:
        log.warning("job %s: reservation short by %d %s; client funds at their floor",
                    job.id, short, needed.currency)  # fmt: skip
        return
    try:
        ledger.post(
            uow,
            entry(
                f"{reserve_job_key(job.id)}:for:{first_key}",
                TransactionKind.RESERVE,
                Transfer(funds, reserved, amount),
                memo=f"job {job.id}: reservation topped up for earnings",
                cause={"job_id": job.id, "client_id": job.client_id},
            ),
        )
    except InsufficientFunds:  # spent concurrently: the reservation stays short
        log.warning("job %s: could not top up the reservation", job.id)


def _post_earnings(
    uow: UnitOfWork, job: JobRow, earnings: Sequence[tuple[Earning, str, TransactionKind]]
) -> list[Earning]:
    """Post the earnings not posted yet (a key already in the journal keeps its first
    decision); zero amounts post nothing."""
    paying = [e for e in earnings if e[0].amount.minor > 0]
    if not paying:
        return []
    done = uow.ledger.entries([e.key for e, _, _ in paying])
    todo = sorted((e for e in paying if e[0].key not in done), key=lambda e: e[0].key)
    if not todo:
        return []
    total = Money.zero(todo[0][0].amount.currency)
    for earning, _, _ in todo:
        total = total + earning.amount
    _cover_reservation(uow, job, total, todo[0][0].key)
    written = ledger.post_many(
        uow, [_earn_entry(job, e, task_id, kind) for e, task_id, kind in todo]
    )
    return [earning for (earning, _, _), posted in zip(todo, written, strict=True) if posted]


def _answer_earnings(
    uow: UnitOfWork, rate: PayRateRule, task_ids: Collection[str]
) -> list[tuple[Earning, str, TransactionKind]]:
    """What every answer of these tasks earns (tasks whose result is final, and gold tasks)."""
    earnings: list[tuple[Earning, str, TransactionKind]] = []
    for task_id, facts in uow.earnings.task_facts(list(task_ids)).items():
        if facts.final is None and not facts.task.is_gold:
            continue
        kind = TransactionKind.TRAINING_EARN if facts.task.is_gold else TransactionKind.EARN
        for answer in facts.answers:
            earnings.append((answer_earning(rate, outcome_of(answer, facts)), task_id, kind))
    return earnings


def earn_for_final_tasks(
    uow: UnitOfWork, job_id: str, task_ids: Collection[str], policy: PayPolicy | None = None
) -> list[Earning]:
    """Post what every answer of these tasks earns; called in the transaction that makes
    them final (scoring). Returns what was posted now (an answer posts at most once ever)."""
    job = uow.jobs.get(job_id)
    rate = rate_of(job, policy) if job is not None and task_ids else None
    if job is None or rate is None:
        return []
    return _post_earnings(uow, job, _answer_earnings(uow, rate, task_ids))


def earn_for_review(
    uow: UnitOfWork, job_id: str, task_id: str, review_id: int, reviewer_id: str
) -> list[Earning]:
    """A review made ``task_id`` final: its answers earn, and so does the reviewer (one batch:
    the accounts are locked once)."""
    job = uow.jobs.get(job_id)
    rate = rate_of(job) if job is not None else None
    if job is None or rate is None:
        return []
    review = (review_earning(rate, review_id, reviewer_id), task_id, TransactionKind.REVIEW_EARN)
    return _post_earnings(uow, job, [*_answer_earnings(uow, rate, [task_id]), review])


# -- hold release --------------------------------------------------------------------------


def release_held_earnings(
    uow: UnitOfWork, now: datetime | None = None, policy: PayPolicy | None = None, limit: int = 500
) -> int:
    """Move earnings older than the hold from pending to available (``release:<earn key>``,
    once each); earnings under an open dispute wait. Returns how many were released."""
    policy = policy or pay_policy()
    cutoff = (now or datetime.now(UTC)) - timedelta(days=policy.pay_hold_days)
    keys = uow.earnings.earnings_due(cutoff, limit)
    releases = []
    for key, posted in uow.ledger.entries(keys).items():
        moves = [
            Transfer(t.credit, worker_available(t.credit.owner, t.credit.currency), t.amount)
            for t in posted.entry.transfers
            if t.credit.kind is AccountKind.WORKER_PENDING
        ]
        if moves:
            releases.append(entry(release_hold_key(key), TransactionKind.RELEASE_HOLD, *moves,
                                  memo=f"hold over: {posted.entry.memo}",
                                  cause={**dict(posted.entry.cause), "earn_key": key}))  # fmt: skip
    # One batch: every account locked once, in order (scoring may be posting to them too).
    # A release the pending balance cannot cover (spent by a correction) is left for people.
    written = ledger.post_many(uow, releases, skip_below_floor=True)
    for release, done in zip(releases, written, strict=True):
        if not done and uow.ledger.entry(release.idempotency_key) is None:
            log.warning("%s: the pending balance cannot cover it", release.idempotency_key)
    return sum(written)


# -- disputes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputeView:
    dispute_id: int
    answer_id: int
    status: str
    earned: Money | None = None


def dispute_answer(uow: UnitOfWork, worker_id: str, answer_id: int, reason: str) -> DisputeView:
    """A worker disputes their own rejected answer, once; a reviewer decides it."""
    answer = uow.earnings.answer(answer_id)
    if answer is None or answer.worker_id != worker_id:
        raise AnswerNotFound(f"no answer {answer_id} of yours")
    if uow.earnings.dispute_of_answer(answer_id) is not None:
        raise AlreadyDisputed(f"answer {answer_id} was disputed already (once per answer)")
    job = uow.jobs.get(answer.job_id)
    rate = rate_of(job) if job is not None else None
    facts = uow.earnings.task_facts([answer.task_id]).get(answer.task_id)
    if rate is None or job is None or facts is None:
        raise NotDisputable("this answer's job pays nothing: there is no pay to dispute")
    if facts.final is None or facts.task.is_gold:
        raise NotDisputable("only a rejected answer of a final task can be disputed")
    earning = answer_earning(rate, outcome_of(answer, facts))
    if earning.accepted or uow.ledger.entry(earn_answer_key(answer_id)) is not None:
        raise NotDisputable("this answer was not rejected: it earned")
    row = EarningDisputeRow(
        answer_id=answer_id, worker_id=worker_id, job_id=answer.job_id, task_id=answer.task_id,
        earn_key=earn_answer_key(answer_id), reason=reason, status="open",
    )  # fmt: skip
    uow.earnings.add_dispute(row)
    return DisputeView(row.id, answer_id, row.status)


def decide_dispute(
    uow: UnitOfWork, reviewer_id: str, dispute_id: int, decision: str
) -> DisputeView:
    """A reviewer overturns (the answer earns in full, ``earn:answer:<id>``) or upholds."""
    if decision not in ("overturn", "uphold"):
        raise BadDecision("decision must be 'overturn' or 'uphold'")
    reviewer = uow.workers.get(reviewer_id)
    if reviewer is None or reviewer.tier != WorkerTier.REVIEWER.value:
        raise NotAReviewer("only reviewers decide disputes")
    dispute = uow.earnings.dispute(dispute_id, for_update=True)
    if dispute is None:
        raise DisputeNotFound(f"no dispute {dispute_id}")
    if dispute.worker_id == reviewer_id:
        raise NotAReviewer("a reviewer cannot decide their own dispute")
    if dispute.status != "open":
        raise DisputeDecided(f"dispute {dispute_id} was decided already ({dispute.status})")
    earned: Money | None = None
    if decision == "overturn":
        answer = uow.earnings.answer(dispute.answer_id)
        job = uow.jobs.get(dispute.job_id)
        rate = rate_of(job) if job is not None else None
        facts = uow.earnings.task_facts([dispute.task_id]).get(dispute.task_id)
        if answer is not None and job is not None and rate is not None and facts is not None:
            earning = overturned_earning(rate, outcome_of(answer, facts))
            _post_earnings(uow, job, [(earning, dispute.task_id, TransactionKind.EARN)])
            earned = earning.amount
    dispute.status = "overturned" if decision == "overturn" else "upheld"
    dispute.decided_by, dispute.decided_at = reviewer_id, datetime.now(UTC)
    return DisputeView(dispute.id, dispute.answer_id, dispute.status, earned)


def open_disputes(uow: UnitOfWork, reviewer_id: str, limit: int = 100) -> list[dict[str, Any]]:
    reviewer = uow.workers.get(reviewer_id)
    if reviewer is None or reviewer.tier != WorkerTier.REVIEWER.value:
        raise NotAReviewer("only reviewers see disputes")
    return [
        {"dispute_id": d.id, "answer_id": d.answer_id, "job_id": d.job_id, "task_id": d.task_id,
         "reason": d.reason, "created_at": d.created_at}
        for d in uow.earnings.open_disputes(limit)
        if d.worker_id != reviewer_id
    ]  # fmt: skip


# -- what a worker sees --------------------------------------------------------------------


def earnings_for_worker(uow: UnitOfWork, worker_id: str, limit: int = 200) -> dict[str, Any]:
    """Per answer (and review) what it earned and why, newest first, plus the worker's
    balances (pending, available, benefits) per currency."""
    answers = uow.earnings.answers_of_worker(worker_id, limit)
    reviews = uow.earnings.reviews_of_worker(worker_id, limit)
    keys = [earn_answer_key(a.id) for a in answers] + [earn_review_key(r.id) for r in reviews]
    posted = uow.ledger.entries(keys + [release_hold_key(k) for k in keys])
    facts = uow.earnings.task_facts([a.task_id for a in answers])
    disputes = uow.earnings.disputes_of_worker(worker_id)
    jobs: dict[str, PayRateRule | None] = {}

    def rate(job_id: str) -> PayRateRule | None:
        if job_id not in jobs:
            job = uow.jobs.get(job_id)
            jobs[job_id] = rate_of(job) if job is not None else None
        return jobs[job_id]

    items: list[dict[str, Any]] = []
    for a in answers:
        key = earn_answer_key(a.id)
        dispute = disputes.get(a.id)
        item: dict[str, Any] = {
            "answer_id": a.id, "job_id": a.job_id, "task_id": a.task_id,
            "dispute": dispute.status if dispute else None, "disputable": False,
        }  # fmt: skip
        if key in posted:
            p = posted[key]
            t = p.entry.transfers[0]
            item.update(status="earned", amount=Money(t.debit.currency, t.amount).as_json(),
                        reason=p.entry.memo, posted_at=p.posted_at,
                        available=release_hold_key(key) in posted)  # fmt: skip
        else:
            job_rate, task_facts = rate(a.job_id), facts.get(a.task_id)
            if job_rate is None:
                item.update(status="unpaid", amount=None, reason="this job has no pay rate")
            elif task_facts is None or (task_facts.final is None and not task_facts.task.is_gold):
                item.update(status="waiting", amount=None,
                            reason="the task's result is not final yet")  # fmt: skip
            else:
                e = answer_earning(job_rate, outcome_of(a, task_facts))
                item.update(status="unpaid", amount=e.amount.as_json(), reason=e.reason,
                            disputable=not e.accepted and dispute is None)  # fmt: skip
        items.append(item)
    review_items = []
    for r in reviews:
        rp = posted.get(earn_review_key(r.id))
        review_items.append({
            "review_id": r.id, "job_id": r.job_id, "task_id": r.task_id,
            "status": "earned" if rp else "unpaid",
            "amount": Money(rp.entry.transfers[0].debit.currency,
                            rp.entry.transfers[0].amount).as_json() if rp else None,
            "reason": rp.entry.memo if rp else "this review earned nothing",
            "available": rp is not None and release_hold_key(rp.entry.idempotency_key) in posted,
        })  # fmt: skip
    return {
        "answers": items,
        "reviews": review_items,
        "balances": balances_of_worker(uow, worker_id),
    }


WORKER_BALANCE_NAMES = {
    AccountKind.WORKER_PENDING: "pending",
    AccountKind.WORKER_AVAILABLE: "available",
    AccountKind.WORKER_BENEFITS: "benefits",
}


def balances_of_worker(uow: UnitOfWork, worker_id: str) -> list[dict[str, Any]]:
    """One row per currency: pending, available and benefits."""
    by_currency: dict[str, dict[str, Any]] = {}
    for ref, minor in uow.ledger.balances_of(worker_id).items():
        name = WORKER_BALANCE_NAMES.get(ref.kind)
        if name is None:
            continue
        row = by_currency.setdefault(
            ref.currency,
            {"currency": ref.currency}
            | {n: Money.zero(ref.currency).as_json() for n in WORKER_BALANCE_NAMES.values()},
        )
        row[name] = Money(ref.currency, minor).as_json()
    return [by_currency[c] for c in sorted(by_currency)]
