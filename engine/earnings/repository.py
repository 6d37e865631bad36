"""All SQL for earnings that is not the journal itself: disputes, and which earnings are due
for release from their hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from engine.db.ledger_models import EarningDisputeRow, JournalTransactionRow
from engine.db.models import AnswerRow, AnswerScoreRow, ReviewRow, TaskResultRow, TaskRow
from engine.domain.ledger import TransactionKind
from engine.domain.result_states import ResultStatus

EARNING_KINDS = (
    TransactionKind.EARN.value,
    TransactionKind.REVIEW_EARN.value,
    TransactionKind.TRAINING_EARN.value,
)


class EarningsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def task_facts(self, task_ids: Sequence[str]) -> dict[str, TaskFacts]:
        return task_facts(self.session, task_ids)

    def answer(self, answer_id: int) -> AnswerRow | None:
        return self.session.get(AnswerRow, answer_id)

    def answers_of_worker(self, worker_id: str, limit: int) -> Sequence[AnswerRow]:
        return self.session.scalars(
            select(AnswerRow)
            .where(AnswerRow.worker_id == worker_id)
            .order_by(AnswerRow.id.desc())
            .limit(limit)
        ).all()

    def reviews_of_worker(self, reviewer_id: str, limit: int) -> Sequence[ReviewRow]:
        return self.session.scalars(
            select(ReviewRow)
            .where(ReviewRow.reviewer_id == reviewer_id)
            .order_by(ReviewRow.id.desc())
            .limit(limit)
        ).all()

    # Disputes ---------------------------------------------------------------------------
    def add_dispute(self, row: EarningDisputeRow) -> None:
        self.session.add(row)
        self.session.flush()

    def dispute(self, dispute_id: int, *, for_update: bool = False) -> EarningDisputeRow | None:
        stmt = select(EarningDisputeRow).where(EarningDisputeRow.id == dispute_id)
        if for_update:
            stmt = stmt.with_for_update(key_share=True)
        return self.session.scalar(stmt)

    def dispute_of_answer(self, answer_id: int) -> EarningDisputeRow | None:
        return self.session.scalar(
            select(EarningDisputeRow).where(EarningDisputeRow.answer_id == answer_id)
        )

    def disputes_of_worker(self, worker_id: str) -> dict[int, EarningDisputeRow]:
        rows = self.session.scalars(
            select(EarningDisputeRow).where(EarningDisputeRow.worker_id == worker_id)
        )
        return {row.answer_id: row for row in rows}

    def open_disputes(self, limit: int = 100) -> Sequence[EarningDisputeRow]:
        return self.session.scalars(
            select(EarningDisputeRow)
            .where(EarningDisputeRow.status == "open")
            .order_by(EarningDisputeRow.id)
            .limit(limit)
        ).all()

    # Hold release -----------------------------------------------------------------------
    def earnings_due(self, posted_before: datetime, limit: int = 500) -> list[str]:
        """Keys of earnings posted before the cutoff that were neither released, reversed,
        nor are under an open dispute (oldest first)."""
        earn = JournalTransactionRow.__table__.alias("earn")
        later = JournalTransactionRow.__table__.alias("later")
        released_or_reversed = (
            select(later.c.id)
            .where(
                later.c.idempotency_key.in_(
                    [literal("release:") + earn.c.idempotency_key]
                    + [literal("reverse:") + earn.c.idempotency_key]
                )
            )
            .exists()
        )
        disputed = (
            select(EarningDisputeRow.id)
            .where(
                EarningDisputeRow.earn_key == earn.c.idempotency_key,
                EarningDisputeRow.status == "open",
            )
            .exists()
        )
        return list(
            self.session.scalars(
                select(earn.c.idempotency_key)
                .where(
                    earn.c.kind.in_(EARNING_KINDS),
                    earn.c.posted_at < posted_before,
                    ~released_or_reversed,
                    ~disputed,
                )
                .order_by(earn.c.id)
                .limit(limit)
            )
        )


@dataclass
class TaskFacts:
    """What the earning rules read about one task: the task, its final result (None when not
    final) and its answers with their scores."""

    task: TaskRow
    final: dict[str, Any] | None
    answers: list[AnswerRow] = field(default_factory=list)
    scores: dict[int, AnswerScoreRow] = field(default_factory=dict)


_CHUNK = 1000


def _chunks(ids: Sequence[Any]) -> list[list[Any]]:
    return [list(ids[i : i + _CHUNK]) for i in range(0, len(ids), _CHUNK)]


def task_facts(session: Session, task_ids: Sequence[str]) -> dict[str, TaskFacts]:
    out: dict[str, TaskFacts] = {}
    for chunk in _chunks(sorted(set(task_ids))):
        for task in session.scalars(select(TaskRow).where(TaskRow.id.in_(chunk))):
            out[task.id] = TaskFacts(task, None)
        for result in session.scalars(
            select(TaskResultRow).where(
                TaskResultRow.task_id.in_(chunk),
                TaskResultRow.status == ResultStatus.FINAL.value,
            )
        ):
            if result.task_id in out:
                out[result.task_id].final = result.final
        for answer in session.scalars(
            select(AnswerRow).where(AnswerRow.task_id.in_(chunk)).order_by(AnswerRow.id)
        ):
            if answer.task_id in out:
                out[answer.task_id].answers.append(answer)
        for score in session.scalars(
            select(AnswerScoreRow).where(AnswerScoreRow.task_id.in_(chunk))
        ):
            if score.task_id in out:
                out[score.task_id].scores[score.answer_id] = score
    return out
