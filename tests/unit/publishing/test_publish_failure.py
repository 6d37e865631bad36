"""A publish that cannot succeed fails the job with its reason instead of stalling."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from engine.db.models import JobRow
from engine.domain.job_stage import JobKind, JobStage
from engine.publishing.service import fail_publishing, publish_failure_reason
from schemas.jobs import JobSpec
from tests.unit.publishing.fakes import FakeJobRepository, StepUnitOfWork

JOB = "5d2c1f0e-7a3b-4c9d-8e1f-2a3b4c5d6e7f"


def _uow(stage: JobStage) -> tuple[StepUnitOfWork, FakeJobRepository]:
    spec = JobSpec(kind=JobKind.TRANSCRIPTION, overlap=1, gold_ratio=0.0)
    job = JobRow(id=JOB, client_id="c", kind="transcription", stage=stage.value,
                 spec=spec.model_dump(mode="json"))  # fmt: skip
    jobs = FakeJobRepository(job)
    return StepUnitOfWork(jobs=jobs), jobs


def test_a_job_stuck_in_publishing_fails_with_the_reason() -> None:
    uow, jobs = _uow(JobStage.PUBLISHING)
    error = IntegrityError(
        "INSERT INTO label_studio_projects ...",
        {},
        Exception("UNIQUE constraint failed: label_studio_projects.ls_project_id"),
    )
    reason = publish_failure_reason(error)
    with uow:
        assert fail_publishing(uow, JOB, reason)
        uow.commit()
    assert jobs.jobs[JOB].stage == JobStage.FAILED.value
    assert jobs.jobs[JOB].failure_reason == reason
    assert reason.startswith("publishing failed: IntegrityError: ")
    assert "label_studio_projects.ls_project_id" in reason
    assert jobs.events == [(JOB, JobStage.FAILED.value, reason)]


def test_a_job_that_left_publishing_meanwhile_is_not_failed() -> None:
    uow, jobs = _uow(JobStage.LABELING)
    with uow:
        assert not fail_publishing(uow, JOB, "publishing failed: late retry")
        uow.commit()
    assert jobs.jobs[JOB].stage == JobStage.LABELING.value
    assert jobs.events == []


def test_the_reason_is_one_bounded_line() -> None:
    reason = publish_failure_reason(RuntimeError("first line\nsecond line " + "x" * 1000))
    assert reason == "publishing failed: RuntimeError: first line"
    assert len(publish_failure_reason(RuntimeError("y" * 5000))) == 500
