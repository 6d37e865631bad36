"""Fakes for ingesting Label Studio annotations: the answer desk (the worker and review APIs'
rules), and the repositories ingest reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.db.models import AnswerRow, LabelStudioTaskRow, RefusedAnnotationRow, WorkerRow
from engine.unit_of_work import UnitOfWork
from engine.work.service import DistributionSettings, InvalidAnswer, SubmitResult, WorkError
from tests.unit.publishing.fakes import SERVER


class FakeAnswers:
    """The answers side of WorkRepository that ingest reads."""

    def __init__(self) -> None:
        self.by_annotation: dict[int, AnswerRow] = {}


class FakeWorkers:
    def __init__(self, *workers: WorkerRow) -> None:
        self.workers = list(workers)

    def by_ls_user(self, server: str, ls_user_id: int) -> WorkerRow | None:
        found = (w for w in self.workers if (w.ls_server, w.ls_user_id) == (server, ls_user_id))
        return next(found, None)


class FakeRefused:
    """Refused annotations of one server (keyed by annotation id), and the answers' lookup."""

    def __init__(self, answers: FakeAnswers | None = None, server: str = SERVER) -> None:
        self.rows: dict[int, RefusedAnnotationRow] = {}
        self.answers = answers or FakeAnswers()
        self.server = server

    def get(self, server: str, ls_annotation_id: int) -> RefusedAnnotationRow | None:
        assert server == self.server
        return self.rows.get(ls_annotation_id)

    def add(self, row: RefusedAnnotationRow) -> None:
        assert row.ls_server == self.server
        assert row.ls_annotation_id not in self.rows
        self.rows[row.ls_annotation_id] = row

    def answer_for(self, ls_annotation_id: int, task_id: str) -> AnswerRow | None:
        found = self.answers.by_annotation.get(ls_annotation_id)
        return found if found is not None and found.task_id == task_id else None


@dataclass
class FakeQualityState:
    """What the quality triggers ask: is every slot answered, how many results await review."""

    all_answered: bool = False
    in_review: int = 1

    def labeling_and_all_answered(self, job_id: str) -> bool:
        return self.all_answered

    def count_in_review(self, job_id: str) -> int:
        return self.in_review


@dataclass
class FiledAnswer:
    worker_id: str
    task_id: str
    replica: int | None
    answer: dict[str, Any]
    annotation_id: int
    lead_time: float | None


@dataclass
class FakeDesk:
    """Files answers like the worker API would; ``refuse`` makes the next filing fail, and
    ``raced`` files the annotation (as a concurrent ingest would) before failing."""

    answers: FakeAnswers
    quality: FakeQualityState
    job_id: str
    filed: list[FiledAnswer] = field(default_factory=list)
    reviews: list[FiledAnswer] = field(default_factory=list)
    refuse: WorkError | None = None
    raced: bool = False

    def normalize(self, uow: UnitOfWork, task_id: str, answer: dict[str, Any]) -> dict[str, Any]:
        text = str(answer.get("text", "")).strip()
        if not text:
            raise InvalidAnswer("a transcription needs text")
        return {"text": text}

    def file_answer(
        self, uow: UnitOfWork, worker_id: str, link: LabelStudioTaskRow, answer: dict[str, Any],
        annotation_id: int, lead_time: float | None, settings: DistributionSettings,
    ) -> SubmitResult:  # fmt: skip
        filing = FiledAnswer(worker_id, link.task_id, link.replica, answer, annotation_id,
                             lead_time)  # fmt: skip
        if self.raced:
            self._store(filing)
        if self.refuse is not None or self.raced:
            raise self.refuse or WorkError("already filed")
        return SubmitResult(self._store(filing), replayed=False, late=False, job_id=self.job_id)

    def _store(self, filing: FiledAnswer) -> int:
        self.filed.append(filing)
        answer_id = len(self.filed)
        self.answers.by_annotation[filing.annotation_id] = AnswerRow(
            id=answer_id, task_id=filing.task_id, job_id=self.job_id, worker_id=filing.worker_id,
            source="label_studio", payload=self.normalize(None, filing.task_id, filing.answer),  # type: ignore[arg-type]
            ls_annotation_id=filing.annotation_id,
        )  # fmt: skip
        return answer_id

    def file_review(
        self, uow: UnitOfWork, reviewer_id: str, task_id: str, answer: dict[str, Any],
        annotation_id: int, lead_time: float | None,
    ) -> int:  # fmt: skip
        if self.refuse is not None:
            raise self.refuse
        self.reviews.append(FiledAnswer(reviewer_id, task_id, None, answer, annotation_id,
                                        lead_time))  # fmt: skip
        self.quality.in_review -= 1
        return len(self.reviews)
