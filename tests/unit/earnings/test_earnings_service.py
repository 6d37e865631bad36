"""The earnings service on fakes: what a final task's answers post, the reservation top-up from
client funds within their floor, idempotent reruns, gold at training rate, no pay rate."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from engine.db.models import AnswerRow, AnswerScoreRow, TaskRow
from engine.domain.ledger import AccountKind, AccountRef, TransactionKind, Transfer, cash, entry
from engine.earnings.repository import TaskFacts
from engine.earnings.service import earn_for_final_tasks, earn_for_review, rate_of
from tests.unit.fakes import FakeUnitOfWork

_ANSWER_IDS = itertools.count(1)
RATE = {"amount": "12.50", "currency": "KES", "policy": "accepted_only", "review_amount": "2.00",
        "training_amount": "0"}  # fmt: skip


@dataclass
class FakeJobs:
    jobs: dict[str, Any] = field(default_factory=dict)

    def get(self, job_id: str, **_: Any) -> Any:
        return self.jobs.get(job_id)


@dataclass
class FakeEarnings:
    facts: dict[str, TaskFacts] = field(default_factory=dict)

    def task_facts(self, task_ids: list[str]) -> dict[str, TaskFacts]:
        return {t: self.facts[t] for t in task_ids if t in self.facts}


def _task(task_id: str, *, final: dict[str, Any] | None, scores: dict[str, float],
          gold: bool = False) -> TaskFacts:  # fmt: skip
    task = TaskRow(id=task_id, job_id="job1", is_gold=gold, gold_answer={"label": "cat"} if gold
                   else None)  # fmt: skip
    facts = TaskFacts(task, final)
    for worker, score in sorted(scores.items()):
        answer_id = next(_ANSWER_IDS)
        facts.answers.append(AnswerRow(id=answer_id, task_id=task_id, job_id="job1",
                                       worker_id=worker, payload={}))  # fmt: skip
        facts.scores[answer_id] = AnswerScoreRow(answer_id=answer_id, score=score,
                                                 correct=score == 1.0)  # fmt: skip
    return facts


def _uow(pay_rate: dict[str, str] | None = RATE) -> FakeUnitOfWork:
    job = SimpleNamespace(
        id="job1", client_id="c1", spec={"pay_rate": pay_rate} if pay_rate else {}
    )
    earnings = FakeEarnings({
        "t1": _task("t1", final={"label": "cat"}, scores={"w1": 1.0, "w2": 1.0, "w3": 0.0}),
        "t2": _task("t2", final=None, scores={"w1": 1.0}),
        "g1": _task("g1", final=None, scores={"w1": 0.0}, gold=True),
    })  # fmt: skip
    return FakeUnitOfWork(jobs=FakeJobs({"job1": job}), earnings=earnings)


def _pending(uow: FakeUnitOfWork, worker: str) -> int:
    return int(uow.ledger.balance(AccountRef(AccountKind.WORKER_PENDING, worker, "KES")))


FUNDS = AccountRef(AccountKind.CLIENT_FUNDS, "c1", "KES")
RESERVED = AccountRef(AccountKind.CLIENT_RESERVED, "job1", "KES")


def test_accepted_answers_of_final_tasks_earn_once() -> None:
    uow = _uow()
    uow.ledger.post(
        entry("topup:c1:r", TransactionKind.TOPUP, Transfer(cash("KES"), FUNDS, 10_000))
    )
    posted = earn_for_final_tasks(uow, "job1", ["t1", "t2", "g1"])
    assert sorted(e.worker_id for e in posted) == ["w1", "w2"]  # w3 rejected, t2 not final
    assert (_pending(uow, "w1"), _pending(uow, "w2"), _pending(uow, "w3")) == (1250, 1250, 0)
    # The reservation was empty: client funds covered exactly what was earned.
    assert uow.ledger.balance(RESERVED) == 0 and uow.ledger.balance(FUNDS) == 10_000 - 2500
    assert earn_for_final_tasks(uow, "job1", ["t1", "t2", "g1"]) == []
    assert uow.ledger.check().clean
    memo = uow.ledger.entry(posted[0].key).memo
    assert memo == "accepted: 1 task × KES 12.50"


def test_a_short_reservation_is_topped_up_only_as_far_as_the_funds_floor() -> None:
    uow = _uow()
    uow.ledger.post(entry("topup:c1:r", TransactionKind.TOPUP, Transfer(cash("KES"), FUNDS, 1000)))
    earn_for_final_tasks(uow, "job1", ["t1"])
    # Workers are paid for accepted work; what the client could not cover stays owed.
    assert (_pending(uow, "w1"), _pending(uow, "w2")) == (1250, 1250)
    assert uow.ledger.balance(FUNDS) == 0 and uow.ledger.balance(RESERVED) == -1500
    assert uow.ledger.check().clean


def test_a_credit_limit_lets_funds_go_below_zero() -> None:
    uow = _uow()
    uow.ledger.set_floor(FUNDS, -5000)
    earn_for_final_tasks(uow, "job1", ["t1"])
    assert uow.ledger.balance(FUNDS) == -2500 and uow.ledger.balance(RESERVED) == 0


def test_a_job_without_a_pay_rate_posts_nothing() -> None:
    uow = _uow(pay_rate=None)
    assert earn_for_final_tasks(uow, "job1", ["t1"]) == []
    assert uow.ledger.posted == []
    assert (
        rate_of(
            SimpleNamespace(
                id="j",
                spec={
                    "pay_rate": {
                        "amount": "1.001",  # type: ignore[arg-type]
                        "currency": "KES",
                    }
                },
            )
        )
        is None
    )


def test_a_review_pays_the_reviewer_and_the_accepted_answers() -> None:
    uow = _uow()
    uow.ledger.set_floor(FUNDS, None)
    posted = earn_for_review(uow, "job1", "t1", 77, "rev")
    assert {e.key for e in posted} >= {"earn:review:77"}
    assert _pending(uow, "rev") == 200
    assert earn_for_review(uow, "job1", "t1", 77, "rev") == []
