"""A publish that no retry can mend fails the job with its reason; it never waits in
publishing forever (what a second demo run used to leave behind)."""

from __future__ import annotations

import uuid

import pytest

from engine.db.models import JobRow
from engine.domain.job_stage import JobStage
from tests.conftest import make_client, manual_uow


def test_an_unrecoverable_publish_error_fails_the_job_with_the_reason(ctx) -> None:  # type: ignore[no-untyped-def]
    from workers.publish import publish_job_task

    client_id, _ = make_client(ctx)
    job_id = str(uuid.uuid4())
    uow = manual_uow(ctx)
    with uow:
        # A spec this engine cannot read: publishing raises on every try.
        job = JobRow(id=job_id, client_id=client_id, kind="transcription",
                     spec={"kind": "no-such-kind"}, stage=JobStage.PUBLISHING.value)  # fmt: skip
        uow.session.add(job)
        uow.commit()

    with pytest.raises(Exception, match="kind"):
        publish_job_task(job_id)

    with uow:
        found = uow.jobs.get(job_id)
        assert found is not None
        job = found
        assert job.stage == JobStage.FAILED.value
        assert job.failure_reason is not None
        assert job.failure_reason.startswith("publishing failed: ValidationError: ")
        reason = job.failure_reason
        history = [(e.stage, e.detail) for e in uow.jobs.stage_history(job_id)]
    assert history[-1] == (JobStage.FAILED.value, reason)
