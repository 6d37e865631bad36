"""Publishing a job to Label Studio: idempotent across crashes, and never calling Label Studio
while a transaction is open (the fake Label Studio fails the test if it is)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from engine.db.models import DraftRow, JobRow, TaskResultRow, TaskRow
from engine.domain.job_stage import JobKind, JobStage
from engine.labeling.label_studio_gateway import LabelStudioUnavailable
from engine.publishing.service import (
    REVIEW_REPLICA,
    LabelStudioTarget,
    publish_job,
    publish_review_to_label_studio,
)
from schemas.jobs import JobSpec
from tests.unit.publishing.fakes import (
    SERVER,
    FakeDraftRepository,
    FakeJobRepository,
    FakeLabelStudio,
    FakePublishRepository,
    FakeReviewResults,
    FakeSlotRepository,
    StepUnitOfWork,
)

JOB = "0b7e3c52-1d9a-4f3e-8a51-5d0c2f6b9e11"
OTHER_JOB = "0b7e3c52-ffff-4f3e-8a51-5d0c2f6b9e11"  # same title prefix, another job
WEBHOOK = "http://engine.test/v1/hooks/label-studio"


@dataclass
class World:
    uow: StepUnitOfWork
    ls: FakeLabelStudio
    jobs: FakeJobRepository
    publishing: FakePublishRepository
    slots: FakeSlotRepository
    review: FakeReviewResults

    def target(self, batch_size: int = 500) -> LabelStudioTarget:
        return LabelStudioTarget(
            self.ls, lambda key: f"https://media.test/{key}", WEBHOOK, "s3cret", batch_size,
            server=SERVER,
        )  # fmt: skip

    @property
    def job(self) -> JobRow:
        return self.jobs.jobs[JOB]

    def work_projects(self) -> dict[int, int]:
        """replica -> recorded Label Studio project id."""
        return {r: i for (j, role, r), i in self.publishing.projects.items() if role == "work"}

    def links_of(self, ls_project_id: int) -> dict[str, int]:
        return {
            link.task_id: link.ls_task_id
            for link in self.publishing.links.values()
            if link.ls_project_id == ls_project_id
        }


def _task(task_id: str, seq: int, *, gold: bool = False, status: str = "ready") -> TaskRow:
    return TaskRow(
        id=task_id, job_id=JOB, source_id="src", seq=seq, kind="audio_segment",
        object_key=f"tasks/{task_id}.flac", is_gold=gold, status=status,
    )  # fmt: skip


def _world(
    stage: JobStage = JobStage.DRAFTED,
    tasks: list[TaskRow] | None = None,
    drafts: tuple[DraftRow, ...] = (),
    results: tuple[TaskResultRow, ...] = (),
    overlap: int = 2,
) -> World:
    if tasks is None:
        tasks = [_task("t1", 1), _task("t2", 2), _task("t3", 3, gold=True)]
    spec = JobSpec(kind=JobKind.TRANSCRIPTION, overlap=overlap, gold_ratio=0.0)
    job = JobRow(
        id=JOB, client_id="c", kind="transcription", stage=stage.value,
        spec=spec.model_dump(mode="json"),
    )  # fmt: skip
    jobs = FakeJobRepository(job)
    publishing = FakePublishRepository(jobs, tasks)
    slots = FakeSlotRepository(tasks)
    review = FakeReviewResults(*results)
    uow = StepUnitOfWork(
        jobs=jobs, publishing=publishing, work=slots, drafts=FakeDraftRepository(*drafts),
        quality=review,
    )  # fmt: skip
    return World(uow, FakeLabelStudio(uow), jobs, publishing, slots, review)


def test_publish_makes_one_project_per_replica_with_every_task_once() -> None:
    drafts = (
        DraftRow(task_id="t1", model_version="whisper-x", text="ask not", words=[]),
        DraftRow(task_id="t2", model_version="whisper-x", text="  ", words=[]),  # silence
    )
    w = _world(drafts=drafts)

    assert publish_job(w.uow, JOB, w.target()) is JobStage.LABELING

    projects = w.work_projects()
    assert sorted(projects) == [0, 1]
    for replica, ls_id in projects.items():
        project = w.ls.projects[ls_id]
        assert project.title == f"Kazi transcription {JOB[:8]} #{replica + 1}"
        assert JOB in project.description
        assert project.webhooks == {WEBHOOK: "s3cret"}
        # Gold goes in like any other task.
        assert w.ls.kazi_tasks(ls_id) == ["t1", "t2", "t3"]
        assert w.links_of(ls_id) == w.ls.existing_task_ids(ls_id)
        by_kazi_id = {t["data"]["kazi_task_id"]: t for t in project.tasks.values()}
        assert by_kazi_id["t1"]["predictions"][0]["model_version"] == "whisper-x"
        assert "predictions" not in by_kazi_id["t2"]  # a blank draft pre-fills nothing
        assert by_kazi_id["t1"]["data"]["audio"] == "https://media.test/tasks/t1.flac"
    # Answer slots for the regular tasks only; gold slots are made when gold is served.
    assert w.slots.slots == {("t1", 0), ("t1", 1), ("t2", 0), ("t2", 1)}
    stages = [stage for _job, stage, _detail in w.jobs.events]
    assert stages == ["publishing", "labeling"]
    assert "4 answer slots" in (w.jobs.events[-1][2] or "")
    # Publishing -> labeling routes nothing: people answer next.
    assert w.uow.outbox.committed == []  # type: ignore[attr-defined]


def test_publishing_again_calls_label_studio_for_nothing() -> None:
    w = _world()
    publish_job(w.uow, JOB, w.target())
    calls = len(w.ls.calls)
    assert publish_job(w.uow, JOB, w.target()) is None  # the job is in labeling now
    assert len(w.ls.calls) == calls


def test_retry_after_a_lost_import_answer_adopts_that_batch() -> None:
    w = _world(tasks=[_task(f"t{i}", i) for i in range(1, 6)], overlap=1)
    # Label Studio takes the second batch, but its answer never arrives.
    w.ls.lose_response_of = {"import_tasks": [2]}
    with pytest.raises(LabelStudioUnavailable):
        publish_job(w.uow, JOB, w.target(batch_size=2))
    assert w.job.stage == JobStage.PUBLISHING.value
    (ls_id,) = w.work_projects().values()
    assert w.ls.kazi_tasks(ls_id) == ["t1", "t2", "t3", "t4"]
    assert sorted(w.links_of(ls_id)) == ["t1", "t2"]  # the lost batch is not recorded

    assert publish_job(w.uow, JOB, w.target(batch_size=2)) is JobStage.LABELING

    assert w.ls.kazi_tasks(ls_id) == ["t1", "t2", "t3", "t4", "t5"]  # nothing twice
    assert w.links_of(ls_id) == w.ls.existing_task_ids(ls_id)
    assert w.ls.calls.count("import_tasks") == 3


@pytest.mark.parametrize("lost", ["create_project", "register_webhook"])
def test_retry_after_a_project_was_made_but_not_recorded_finds_it(lost: str) -> None:
    w = _world()
    w.ls.lose_response_of = {lost: [1]}
    with pytest.raises(LabelStudioUnavailable):
        publish_job(w.uow, JOB, w.target())
    assert w.work_projects() == {}
    (made,) = w.ls.projects

    assert publish_job(w.uow, JOB, w.target()) is JobStage.LABELING

    assert len(w.ls.projects) == 2  # one per replica, none twice
    assert w.work_projects()[0] == made
    assert w.ls.projects[made].webhooks == {WEBHOOK: "s3cret"}
    for ls_id in w.work_projects().values():
        assert w.ls.kazi_tasks(ls_id) == ["t1", "t2", "t3"]


def test_another_jobs_project_with_the_same_title_is_not_adopted() -> None:
    w = _world(overlap=1)
    title = f"Kazi transcription {JOB[:8]} #1"
    other = w.ls.create_project(title, "<View/>", f"Job {OTHER_JOB}, answer copy 1 of 1.")

    publish_job(w.uow, JOB, w.target())

    assert w.work_projects()[0] != other
    assert w.ls.projects[other].tasks == {}


def test_a_concurrent_publisher_recording_first_wins_and_our_empty_project_goes() -> None:
    w = _world(overlap=1)
    winner: list[int] = []

    def other_publisher_records_its_own(ours: int) -> None:
        # Runs as Label Studio makes our project: another publisher's is made and recorded.
        if not winner:
            winner.append(ours + 1000)
            w.ls.projects[winner[0]] = replace(w.ls.projects[ours], tasks={}, webhooks={})
            w.publishing.projects[(JOB, "work", 0)] = winner[0]

    w.ls.on_create.append(other_publisher_records_its_own)

    publish_job(w.uow, JOB, w.target())

    assert w.work_projects() == {0: winner[0]}
    assert len(w.ls.deleted) == 1 and w.ls.deleted[0] not in w.ls.projects
    assert w.ls.kazi_tasks(winner[0]) == ["t1", "t2", "t3"]


def test_a_job_without_tasks_left_fails_and_label_studio_is_not_called() -> None:
    w = _world(tasks=[_task("t1", 1, status="failed")])
    assert publish_job(w.uow, JOB, w.target()) is None
    assert w.job.stage == JobStage.FAILED.value
    assert w.job.failure_reason == "no task left to label"
    assert w.ls.calls == []


def test_without_label_studio_the_worker_api_serves_the_job() -> None:
    w = _world()
    assert publish_job(w.uow, JOB, None) is JobStage.LABELING
    assert "Label Studio not configured" in (w.jobs.events[-1][2] or "")
    assert w.publishing.projects == {}


# -- the review project ------------------------------------------------------------------------


def _in_review(task_id: str, text: str, agreement: float = 0.4) -> TaskResultRow:
    return TaskResultRow(
        task_id=task_id, job_id=JOB, consensus={"text": text}, agreement=agreement, answers=2,
        status="in_review",
    )  # fmt: skip


def test_review_project_gets_each_result_in_review_with_the_consensus_once() -> None:
    w = _world(stage=JobStage.REVIEWING, results=(_in_review("t1", "ask not"),))
    ls_id = publish_review_to_label_studio(w.uow, w.target(), JOB)

    assert ls_id is not None
    assert w.publishing.projects[(JOB, "review", 0)] == ls_id
    assert w.ls.projects[ls_id].webhooks == {WEBHOOK: "s3cret"}
    (item,) = w.ls.projects[ls_id].tasks.values()
    prediction = item["predictions"][0]
    assert prediction["model_version"] == "consensus" and prediction["score"] == 0.4
    assert prediction["result"][0]["value"]["text"] == ["ask not"]
    assert {link.replica for link in w.publishing.links.values()} == {REVIEW_REPLICA}

    # A later result in review joins the same project; the first is not sent again.
    w.review.results.append(_in_review("t2", "the second"))
    assert publish_review_to_label_studio(w.uow, w.target(), JOB) == ls_id
    assert w.ls.kazi_tasks(ls_id) == ["t1", "t2"]
    assert len(w.ls.projects) == 1


def test_review_retry_after_a_lost_import_answer_adopts() -> None:
    w = _world(stage=JobStage.REVIEWING, results=(_in_review("t1", "a"), _in_review("t2", "b")))
    w.ls.lose_response_of = {"import_tasks": [1]}
    with pytest.raises(LabelStudioUnavailable):
        publish_review_to_label_studio(w.uow, w.target(), JOB)

    ls_id = publish_review_to_label_studio(w.uow, w.target(), JOB)

    assert ls_id is not None
    assert w.ls.kazi_tasks(ls_id) == ["t1", "t2"]
    assert w.links_of(ls_id) == w.ls.existing_task_ids(ls_id)


def test_review_publishing_skips_a_job_not_in_review() -> None:
    w = _world(stage=JobStage.LABELING, results=(_in_review("t1", "a"),))
    assert publish_review_to_label_studio(w.uow, w.target(), JOB) is None
    assert w.ls.calls == []
