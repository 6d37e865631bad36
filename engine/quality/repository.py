"""All SQL for results, answer scores and reviews."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, exists, func, select
from sqlalchemy.orm import Session

from engine.db.models import (
    AnswerRow,
    AnswerScoreRow,
    AssignmentRow,
    JobRow,
    ReviewRow,
    TaskResultRow,
    TaskRow,
)
from engine.domain.job_stage import JobStage
from engine.domain.lease_rules import UNANSWERED_ANSWER_SLOT
from engine.domain.result_states import ResultStatus
from engine.domain.work_states import SlotPurpose
from engine.work.slot_sql import slot_condition


def _open_answer_slots(job_id):  # type: ignore[no-untyped-def]
    return exists().where(AssignmentRow.job_id == job_id, slot_condition(UNANSWERED_ANSWER_SLOT))


# Checked after every answer, so built once. EXISTS stops at the first unanswered slot
# (partial index ix_assignments_unanswered).
_LABELING_AND_ALL_ANSWERED = select(
    exists().where(JobRow.id == bindparam("job_id"), JobRow.stage == JobStage.LABELING.value)
    & ~_open_answer_slots(bindparam("job_id"))
)


class QualityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def tasks(self, job_id: str) -> Sequence[TaskRow]:
        return self.session.scalars(
            select(TaskRow)
            .where(TaskRow.job_id == job_id, TaskRow.status != "failed")
            .order_by(TaskRow.source_id, TaskRow.seq)
        ).all()

    def answers(self, job_id: str) -> Sequence[AnswerRow]:
        return self.session.scalars(
            select(AnswerRow).where(AnswerRow.job_id == job_id).order_by(AnswerRow.id)
        ).all()

    def has_open_answer_slots(self, job_id: str) -> bool:
        return bool(self.session.scalar(select(_open_answer_slots(job_id))))

    def labeling_and_all_answered(self, job_id: str) -> bool:
        """The job is in labeling and every answer slot of it is answered (one statement)."""
        return bool(self.session.scalar(_LABELING_AND_ALL_ANSWERED, {"job_id": job_id}))

    def worker_scores(self, worker_ids: Sequence[str]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {w: [] for w in worker_ids}
        if not worker_ids:
            return out
        for worker_id, score in self.session.execute(
            select(AnswerScoreRow.worker_id, AnswerScoreRow.score).where(
                AnswerScoreRow.worker_id.in_(list(worker_ids))
            )
        ):
            out[worker_id].append(score)
        return out

    def put_score(self, row: AnswerScoreRow) -> None:
        self.session.merge(row)

    def answer(self, answer_id: int) -> AnswerRow | None:
        return self.session.get(AnswerRow, answer_id)

    def result(self, task_id: str, *, for_update: bool = False) -> TaskResultRow | None:
        stmt = select(TaskResultRow).where(TaskResultRow.task_id == task_id)
        if for_update:
            stmt = stmt.with_for_update(key_share=True)
        return self.session.scalar(stmt)

    def results(self, job_id: str) -> Sequence[TaskResultRow]:
        return self.session.scalars(
            select(TaskResultRow).where(TaskResultRow.job_id == job_id)
        ).all()

    def put_result(self, row: TaskResultRow) -> None:
        self.session.merge(row)
        self.session.flush()

    def count_in_review(self, job_id: str) -> int:
        return int(
            self.session.scalar(
                select(func.count()).where(
                    TaskResultRow.job_id == job_id,
                    TaskResultRow.status == ResultStatus.IN_REVIEW.value,
                )
            )
            or 0
        )

    def add_review_slot(self, job_id: str, task_id: str) -> None:
        have = self.session.scalar(
            select(AssignmentRow.id).where(
                AssignmentRow.task_id == task_id,
                AssignmentRow.purpose == SlotPurpose.REVIEW.value,
            )
        )
        if have is None:
            self.session.add(
                AssignmentRow(
                    task_id=task_id, job_id=job_id, replica=-1, purpose=SlotPurpose.REVIEW.value
                )
            )

    def review_slot_of(self, task_id: str) -> AssignmentRow | None:
        return self.session.scalar(
            select(AssignmentRow)
            .where(
                AssignmentRow.task_id == task_id,
                AssignmentRow.purpose == SlotPurpose.REVIEW.value,
            )
            .with_for_update(key_share=True)
        )

    def results_in_review(self, job_id: str) -> Sequence[TaskResultRow]:
        return self.session.scalars(
            select(TaskResultRow).where(
                TaskResultRow.job_id == job_id,
                TaskResultRow.status == ResultStatus.IN_REVIEW.value,
            )
        ).all()

    def add_review(self, row: ReviewRow) -> None:
        self.session.add(row)
        self.session.flush()

    def review_by_client_id(self, reviewer_id: str, client_review_id: str) -> ReviewRow | None:
        return self.session.scalar(
            select(ReviewRow).where(
                ReviewRow.reviewer_id == reviewer_id,
                ReviewRow.client_review_id == client_review_id,
            )
        )

    def answers_of_task(self, task_id: str) -> Sequence[AnswerRow]:
        return self.session.scalars(select(AnswerRow).where(AnswerRow.task_id == task_id)).all()

    def clear_scores(self, job_id: str) -> None:
        self.session.execute(delete(AnswerScoreRow).where(AnswerScoreRow.job_id == job_id))

    def scores_of_worker(self, worker_id: str, limit: int) -> Sequence[AnswerScoreRow]:
        return self.session.scalars(
            select(AnswerScoreRow)
            .where(AnswerScoreRow.worker_id == worker_id)
            .order_by(AnswerScoreRow.scored_at.desc())
            .limit(limit)
        ).all()
