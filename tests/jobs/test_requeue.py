"""A job whose enqueue failed (broker down) is kept and queued again later: nothing is lost."""

from __future__ import annotations

import io
from datetime import timedelta

from tests.conftest import make_client, wait_for_stage
from tests.media_samples import speech_wav_bytes


def test_job_survives_a_broker_outage_and_is_requeued(ctx, celery_worker_process):
    from engine.jobs.intake import IncomingFile, requeue_stalled_jobs, submit_job
    from schemas.jobs import JobSpec
    from workers.dispatch import enqueue_split

    client_id, _ = make_client(ctx)

    def broker_down(_job_id: str) -> None:
        raise ConnectionError("broker unreachable")

    with ctx.sessions() as session:
        job = submit_job(
            session,
            ctx.store,
            client_id=client_id,
            spec=JobSpec(kind="transcription"),
            files=[IncomingFile("a.wav", io.BytesIO(speech_wav_bytes()))],
            max_upload_bytes=10**9,
            max_files=10,
            enqueue_split=broker_down,
        )
    with ctx.sessions() as session:
        requeued = requeue_stalled_jobs(session, enqueue_split, older_than=timedelta(0))
    assert job.id in requeued
    assert (
        wait_for_stage(ctx, job.id, {"labeling", "failed"}, worker=celery_worker_process)
        == "labeling"
    )
    with ctx.sessions() as session:
        assert job.id not in requeue_stalled_jobs(session, enqueue_split, older_than=timedelta(0))
