"""An in-memory QualityRepository over the work fakes' store (tests/unit/work/fakes.py)."""

from __future__ import annotations

from collections.abc import Sequence

from engine.db.models import AnswerRow, AnswerScoreRow, AssignmentRow, ReviewRow, TaskResultRow
from engine.db.models import TaskRow as TaskRowModel
from engine.domain.lease_rules import UNANSWERED_ANSWER_SLOT, slot_facts
from engine.domain.predicate import holds
from engine.domain.result_states import ResultStatus
from engine.domain.work_states import SlotPurpose
from engine.work.leasing import slot_view
from tests.unit.work.fakes import FakeStore


class FakeQualityRepository:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def tasks(self, job_id: str) -> Sequence[TaskRowModel]:
        return [t for t in self.store.tasks.values() if t.job_id == job_id and t.status != "failed"]

    def answers(self, job_id: str) -> Sequence[AnswerRow]:
        return sorted(self.store.answers_of(job_id), key=lambda a: a.id)

    def has_open_answer_slots(self, job_id: str) -> bool:
        return any(
            s.job_id == job_id and holds(UNANSWERED_ANSWER_SLOT, slot_facts(slot_view(s)), {})
            for s in self.store.slots.values()
        )

    def labeling_and_all_answered(self, job_id: str) -> bool:
        job = self.store.jobs.get(job_id)
        return (
            job is not None and job.stage == "labeling" and not self.has_open_answer_slots(job_id)
        )

    def worker_scores(self, worker_ids: Sequence[str]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {w: [] for w in worker_ids}
        for score in self.store.scores.values():
            if score.worker_id in out:
                out[score.worker_id].append(score.score)
        return out

    def put_score(self, row: AnswerScoreRow) -> None:
        self.store.scores[row.answer_id] = row

    def answer(self, answer_id: int) -> AnswerRow | None:
        return self.store.answers.get(answer_id)

    def result(self, task_id: str, *, for_update: bool = False) -> TaskResultRow | None:
        return self.store.results.get(task_id)

    def put_result(self, row: TaskResultRow) -> None:
        self.store.results[row.task_id] = row

    def count_in_review(self, job_id: str) -> int:
        return sum(
            1
            for r in self.store.results.values()
            if r.job_id == job_id and r.status == ResultStatus.IN_REVIEW
        )

    def add_review_slot(self, job_id: str, task_id: str) -> None:
        if not self.store.slots_of(task_id, SlotPurpose.REVIEW):
            self.store.add_slot(
                AssignmentRow(
                    task_id=task_id, job_id=job_id, replica=-1, purpose=SlotPurpose.REVIEW.value
                )
            )

    def review_slot_of(self, task_id: str) -> AssignmentRow | None:
        slots = self.store.slots_of(task_id, SlotPurpose.REVIEW)
        return slots[0] if slots else None

    def add_review(self, row: ReviewRow) -> None:
        assert not any(r.task_id == row.task_id for r in self.store.reviews.values())
        row.id = len(self.store.reviews) + 1
        self.store.reviews[row.id] = row

    def review_by_client_id(self, reviewer_id: str, client_review_id: str) -> ReviewRow | None:
        return next(
            (
                r
                for r in self.store.reviews.values()
                if r.reviewer_id == reviewer_id and r.client_review_id == client_review_id
            ),
            None,
        )

    def answers_of_task(self, task_id: str) -> Sequence[AnswerRow]:
        return [a for a in self.store.answers.values() if a.task_id == task_id]

    def clear_scores(self, job_id: str) -> None:
        for answer_id in [k for k, s in self.store.scores.items() if s.job_id == job_id]:
            del self.store.scores[answer_id]

    def scores_of_worker(self, worker_id: str, limit: int) -> Sequence[AnswerScoreRow]:
        mine = [s for s in self.store.scores.values() if s.worker_id == worker_id]
        return sorted(mine, key=lambda s: s.scored_at, reverse=True)[:limit]
