"""Nothing is lost when the broker is away: the outbox keeps the step until it is relayed, and
the stall sweep resends a step the broker lost after it was sent."""

from __future__ import annotations

import io

from tests.conftest import make_client, wait_for_stage
from tests.media_samples import speech_wav_bytes
from tests.unit.fakes import FakeTaskQueue


def _submit(ctx, uow, client_id: str) -> str:  # type: ignore[no-untyped-def]
    from engine.jobs.intake import IncomingFile, submit_job
    from schemas.jobs import JobSpec

    return submit_job(
        uow,
        ctx.store,
        client_id=client_id,
        spec=JobSpec(kind="transcription"),
        files=[IncomingFile("a.wav", io.BytesIO(speech_wav_bytes()))],
        max_upload_bytes=10**9,
        max_files=10,
    )


def _outbox(ctx, job_id: str):  # type: ignore[no-untyped-def]
    with ctx.uow() as uow:
        return [(r.task, r.sent_at is not None, r.last_error) for r in uow.outbox.for_job(job_id)]


def test_a_step_the_broker_refused_stays_in_the_outbox_until_relayed(ctx, celery_worker_process):
    from engine.pipeline.relay import relay
    from engine.unit_of_work import SqlAlchemyUnitOfWork

    client_id, _ = make_client(ctx)
    down = FakeTaskQueue(down=True)
    job_id = _submit(ctx, SqlAlchemyUnitOfWork(ctx.sessions, down), client_id)
    [(task, sent, error)] = _outbox(ctx, job_id)
    assert (task, sent) == ("kazi.ingest.split_job", False)
    assert error and "broker is down" in error
    assert down.sent == []

    assert relay(ctx.uow, ctx.queue) >= 1  # what the beat's relay does
    assert _outbox(ctx, job_id)[0][1] is True
    assert (
        wait_for_stage(ctx, job_id, {"labeling", "failed"}, worker=celery_worker_process)
        == "labeling"
    )


def test_a_step_the_broker_lost_is_sent_again_by_the_stall_sweep(ctx, celery_worker_process):
    from engine.pipeline.stalls import requeue_stalled
    from engine.unit_of_work import SqlAlchemyUnitOfWork

    client_id, _ = make_client(ctx)
    lost = FakeTaskQueue()  # takes the message and drops it, like a broker restarted empty
    job_id = _submit(ctx, SqlAlchemyUnitOfWork(ctx.sessions, lost), client_id)
    assert [t for t, _, _ in lost.sent] == ["kazi.ingest.split_job"]
    assert _outbox(ctx, job_id)[0][1] is True

    # Not quiet long enough yet: nothing is resent.
    assert job_id not in ctx.in_unit_of_work(requeue_stalled, 3600.0)
    assert job_id in ctx.in_unit_of_work(requeue_stalled, 0.0)
    # The resend is itself a sign of life: an immediate second sweep leaves the job alone.
    assert job_id not in ctx.in_unit_of_work(requeue_stalled, 1.0)
    assert (
        wait_for_stage(ctx, job_id, {"labeling", "failed"}, worker=celery_worker_process)
        == "labeling"
    )
    with ctx.uow() as uow:
        lease = uow.stage_leases.get(job_id)
        assert lease is not None and lease.requeues >= 1
