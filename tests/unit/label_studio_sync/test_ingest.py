"""Ingesting Label Studio annotations: each outcome, the quality trigger written in the same
transaction, and reconciliation reading Label Studio outside any transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.db.models import JobRow, LabelStudioTaskRow, TaskRow, WorkerRow
from engine.domain.job_stage import JobKind, JobStage
from engine.label_studio_sync.service import (
    REFUSED_EARLIER,
    IngestOutcome,
    ingest_annotation,
    reconcile,
)
from engine.work.service import DistributionSettings, SubmitRefused
from schemas.jobs import JobSpec
from tests.unit.fakes import FakeOutbox
from tests.unit.label_studio_sync.fakes import (
    FakeAnswers,
    FakeDesk,
    FakeQualityState,
    FakeRefused,
    FakeWorkers,
    FiledAnswer,
)
from tests.unit.publishing.fakes import (
    SERVER,
    FakeJobRepository,
    FakeLabelStudio,
    FakePublishRepository,
    StepUnitOfWork,
)

JOB = "5c1d7e0a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
WORK_PROJECT, REVIEW_PROJECT = 11, 21
WORK_TASK, REVIEW_TASK = 101, 201
WORKER_USER, REVIEWER_USER = 7, 9
SETTINGS = DistributionSettings()


@dataclass
class World:
    uow: StepUnitOfWork
    desk: FakeDesk
    quality: FakeQualityState
    answers: FakeAnswers
    refused: FakeRefused
    job: JobRow

    @property
    def outbox(self) -> FakeOutbox:
        return self.uow.outbox  # type: ignore[return-value]

    def ingest(self, annotation: dict[str, Any], ls_task_id: int = WORK_TASK,
               ls_project_id: int = WORK_PROJECT) -> IngestOutcome:  # fmt: skip
        """One webhook's unit of work."""
        with self.uow:
            outcome = ingest_annotation(
                self.uow, SERVER, ls_project_id, ls_task_id, annotation, SETTINGS, self.desk
            )
            self.uow.commit()
        return outcome


def _world(stage: JobStage = JobStage.LABELING) -> World:
    spec = JobSpec(kind=JobKind.TRANSCRIPTION, overlap=2, gold_ratio=0.0)
    job = JobRow(id=JOB, client_id="c", kind="transcription", stage=stage.value,
                 spec=spec.model_dump(mode="json"))  # fmt: skip
    task = TaskRow(id="t1", job_id=JOB, source_id="s", seq=1, kind="audio_segment",
                   object_key="tasks/t1.flac")  # fmt: skip
    jobs = FakeJobRepository(job)
    publishing = FakePublishRepository(jobs, [task])
    publishing.projects = {(JOB, "work", 0): WORK_PROJECT, (JOB, "review", 0): REVIEW_PROJECT}
    publishing.links = {
        WORK_TASK: LabelStudioTaskRow(ls_server=SERVER, ls_task_id=WORK_TASK,
                                      ls_project_id=WORK_PROJECT, task_id="t1", replica=0),
        REVIEW_TASK: LabelStudioTaskRow(ls_server=SERVER, ls_task_id=REVIEW_TASK,
                                        ls_project_id=REVIEW_PROJECT, task_id="t1", replica=-1),
    }  # fmt: skip
    workers = FakeWorkers(
        WorkerRow(id="w1", handle="w1", ls_server=SERVER, ls_user_id=WORKER_USER),
        WorkerRow(
            id="r1", handle="r1", ls_server=SERVER, ls_user_id=REVIEWER_USER, tier="reviewer"
        ),  # fmt: skip
    )
    answers, quality = FakeAnswers(), FakeQualityState()
    refused = FakeRefused(answers)
    uow = StepUnitOfWork(
        jobs=jobs, publishing=publishing, work=answers, workers=workers,
        refused_annotations=refused, quality=quality,
    )  # fmt: skip
    return World(uow, FakeDesk(answers, quality, JOB), quality, answers, refused, job)


def _annotation(annotation_id: int, user: Any, text: str = "ask not",
                **extra: Any) -> dict[str, Any]:  # fmt: skip
    result = [{"from_name": "transcription", "to_name": "audio", "type": "textarea",
               "value": {"text": [text]}}]  # fmt: skip
    return {"id": annotation_id, "completed_by": user, "result": result, "lead_time": 12.5,
            **extra}  # fmt: skip


def test_the_last_answer_is_filed_once_and_sends_scoring_in_its_transaction() -> None:
    w = _world()
    w.quality.all_answered = True

    outcome = w.ingest(_annotation(5001, {"id": WORKER_USER}))

    assert outcome == IngestOutcome("accepted", 1, job_id=JOB)
    assert w.desk.filed == [FiledAnswer("w1", "t1", 0, {"text": "ask not"}, 5001, 12.5)]
    assert [(s.task, s.args) for s in w.outbox.committed] == [("kazi.score.score_job", [JOB])]

    # The same annotation again (a webhook resent, a reconciliation): one answer.
    assert w.ingest(_annotation(5001, WORKER_USER)) == IngestOutcome("duplicate", 1)
    assert len(w.desk.filed) == 1
    assert len(w.outbox.committed) == 1


def test_an_answer_that_leaves_slots_open_sends_nothing() -> None:
    w = _world()
    assert w.ingest(_annotation(5001, WORKER_USER)).status == "accepted"
    assert w.outbox.committed == [] and w.outbox.pending == []


def test_an_edited_annotation_updates_its_answer() -> None:
    w = _world()
    w.ingest(_annotation(5001, WORKER_USER, "ask not"))

    assert w.ingest(_annotation(5001, WORKER_USER, "ask not what")).status == "updated"
    assert w.answers.by_annotation[5001].payload == {"text": "ask not what"}
    # An edit the rules refuse keeps the answer as it was.
    assert w.ingest(_annotation(5001, WORKER_USER, "   ")).status == "duplicate"
    assert w.answers.by_annotation[5001].payload == {"text": "ask not what"}


def test_an_annotation_on_a_task_the_engine_did_not_publish_waits_for_reconciliation() -> None:
    w = _world()
    unknown = w.ingest(_annotation(5001, WORKER_USER), ls_task_id=999)
    # A known task, but the webhook names another project than the one it is in.
    elsewhere = w.ingest(_annotation(5002, WORKER_USER), ls_project_id=REVIEW_PROJECT)
    assert unknown.status == elsewhere.status == "ignored"
    assert w.refused.rows == {} and w.desk.filed == []


def test_an_annotation_by_someone_who_is_not_a_worker_is_refused_and_kept() -> None:
    w = _world()
    annotation = _annotation(5001, 42)

    outcome = w.ingest(annotation)

    assert outcome.status == "refused"
    assert outcome.reason == "Label Studio user 42 is not a Kazi worker"
    row = w.refused.rows[5001]
    assert (row.task_id, row.ls_project_id, row.payload) == ("t1", WORK_PROJECT, annotation)
    assert w.ingest(annotation) == IngestOutcome("refused", reason=REFUSED_EARLIER)
    assert w.desk.filed == []


def test_an_unreadable_result_is_refused() -> None:
    w = _world()
    outcome = w.ingest({"id": 5001, "completed_by": WORKER_USER, "result": []})
    assert outcome.status == "refused" and "empty annotation result" in (outcome.reason or "")
    assert w.refused.rows[5001].worker_id == "w1"


def test_an_answer_the_distribution_rules_refuse_is_kept_with_their_reason() -> None:
    w = _world()
    w.desk.refuse = SubmitRefused("the worker has answered this task already")
    outcome = w.ingest(_annotation(5001, WORKER_USER))
    assert outcome.reason == "the worker has answered this task already"
    assert w.refused.rows[5001].reason == outcome.reason
    assert w.outbox.committed == []


def test_an_annotation_filed_meanwhile_by_the_other_path_is_a_duplicate() -> None:
    w = _world()
    w.desk.raced = True
    assert w.ingest(_annotation(5001, WORKER_USER)) == IngestOutcome("duplicate", 1)
    assert w.refused.rows == {}


def test_a_skipped_task_is_ignored() -> None:
    w = _world()
    assert w.ingest(_annotation(5001, WORKER_USER, was_cancelled=True)).status == "ignored"
    assert w.desk.filed == [] and w.refused.rows == {}


def test_the_last_review_ends_review_in_its_transaction() -> None:
    w = _world(JobStage.REVIEWING)
    w.quality.in_review = 2
    first = w.ingest(_annotation(6001, REVIEWER_USER), REVIEW_TASK, REVIEW_PROJECT)
    assert first == IngestOutcome("reviewed", 1, job_id=JOB)
    assert w.outbox.committed == []  # one result still waits

    w.ingest(_annotation(6002, REVIEWER_USER), REVIEW_TASK, REVIEW_PROJECT)

    assert [r.worker_id for r in w.desk.reviews] == ["r1", "r1"]
    assert [(s.task, s.args) for s in w.outbox.committed] == [("kazi.score.finish_review", [JOB])]


def test_reconcile_files_what_webhooks_missed_one_transaction_each() -> None:
    w = _world()
    label_studio = FakeLabelStudio(w.uow)
    w.ingest(_annotation(5003, WORKER_USER))  # its webhook arrived
    label_studio.annotations_of = {
        WORK_PROJECT: [
            _annotation(5001, WORKER_USER, task=WORK_TASK),
            _annotation(5002, 42, task=WORK_TASK),
            _annotation(5003, WORKER_USER, task=WORK_TASK),
        ],
        REVIEW_PROJECT: [_annotation(6001, REVIEWER_USER, task=REVIEW_TASK)],
    }
    commits = w.uow.commits

    report = reconcile(w.uow, label_studio, SERVER, SETTINGS, desk=w.desk)

    # The job is in labeling: its review project takes no annotations yet.
    assert (report.projects, report.seen, report.accepted, report.refused) == (1, 3, 1, 1)
    assert w.uow.commits - commits == 3
    assert sorted(w.answers.by_annotation) == [5001, 5003]
    again = reconcile(w.uow, label_studio, SERVER, SETTINGS, desk=w.desk)
    assert (again.seen, again.accepted, again.refused) == (3, 0, 0)


def test_reconcile_of_a_job_in_review_files_its_reviews() -> None:
    w = _world(JobStage.REVIEWING)
    label_studio = FakeLabelStudio(w.uow)
    label_studio.annotations_of = {
        REVIEW_PROJECT: [_annotation(6001, REVIEWER_USER, task=REVIEW_TASK)]
    }
    report = reconcile(w.uow, label_studio, SERVER, SETTINGS, desk=w.desk)
    assert (report.projects, report.reviewed) == (1, 1)
    assert [(s.task, s.args) for s in w.outbox.committed] == [("kazi.score.finish_review", [JOB])]
