"""Jobs that do not finish cleanly still deliver what is final and say what is missing: a
source the client deleted before splitting, tasks without answers at the deadline."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from tests.conftest import make_client
from tests.media_samples import png_bytes


def _worker(ctx) -> str:  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    with ctx.sessions.begin() as session:
        return register_worker(session, f"p-{uuid.uuid4().hex[:10]}", "qualified").id


def _answer(ctx, worker_id: str, job_id: str, label: str, limit: int) -> int:  # type: ignore[no-untyped-def]
    from engine.work.service import DistributionSettings, lease_next, submit

    done = 0
    while done < limit:
        with ctx.sessions.begin() as session:
            lease = lease_next(session, worker_id, DistributionSettings(), job_id=job_id)
            if lease is None:
                break
            submit(session, worker_id, lease.lease_id, {"label": label},
                   client_answer_id=str(uuid.uuid4()), time_spent_seconds=4.0)  # fmt: skip
        done += 1
    return done


def _run_to_delivery(ctx, job_id: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    from engine.assembly.service import assemble_job
    from engine.quality.service import QualitySettings, score_job

    stage = score_job(
        ctx.sessions, job_id, QualitySettings(review_threshold=0.0, review_sample_rate=0.0)
    )
    assert stage is not None and stage.value == "assembling", stage
    assert assemble_job(ctx.sessions, ctx.store, job_id).value == "delivered"  # type: ignore[union-attr]
    from engine.assembly.repository import AssemblyRepository

    with ctx.sessions() as session:
        rows = {r.name: r.object_key for r in AssemblyRepository(session).deliverables(job_id)}
    return {name: ctx.store.get_bytes(key) for name, key in rows.items()}


def _submit(ctx, files, **spec):  # type: ignore[no-untyped-def]
    from engine.jobs.intake import IncomingFile, submit_job
    from schemas.jobs import JobSpec

    client_id, _ = make_client(ctx)
    with ctx.sessions() as session:
        job = submit_job(
            session, ctx.store, client_id=client_id,
            spec=JobSpec(kind="image_classification", labels=["cat", "dog"], gold_ratio=0, **spec),
            files=[IncomingFile(n, io.BytesIO(b)) for n, b in files],
            max_upload_bytes=10**8, max_files=10, enqueue_split=lambda _job_id: None,
        )  # fmt: skip
    return job.id


def _publish(ctx, job_id: str) -> None:  # type: ignore[no-untyped-def]
    from engine.publishing.service import begin_publishing, finish_publishing
    from engine.splitting.service import split_job

    assert split_job(ctx.sessions, ctx.store, job_id, ctx.tiling).value == "split"  # type: ignore[union-attr]
    assert begin_publishing(ctx.sessions, job_id) is not None
    finish_publishing(ctx.sessions, job_id, "worker API only")


def test_the_sweep_sends_a_fully_answered_job_whose_trigger_was_missed(ctx):
    from engine.quality.triggers import job_ready_after_answer, jobs_due_for_scoring

    files = [(f"s{i}.png", png_bytes(40 + i, 30)) for i in range(2)]
    job_id = _submit(ctx, files, overlap=1)
    _publish(ctx, job_id)
    with ctx.sessions() as session:
        assert not job_ready_after_answer(session, job_id)
        assert job_id not in jobs_due_for_scoring(session)
    # Answered without the API's trigger (as when two last answers commit at once).
    assert _answer(ctx, _worker(ctx), job_id, "cat", 10) == 2
    with ctx.sessions() as session:
        assert job_ready_after_answer(session, job_id)
        assert job_id in jobs_due_for_scoring(session)
    _run_to_delivery(ctx, job_id)
    with ctx.sessions() as session:
        assert not job_ready_after_answer(session, job_id)  # delivered, not labeling
        assert job_id not in jobs_due_for_scoring(session)


def test_a_source_deleted_before_splitting_fails_alone_and_is_reported(ctx):
    from engine.jobs.repository import JobRepository

    job_id = _submit(ctx, [("a.png", png_bytes(30, 30)), ("b.png", png_bytes(31, 30))], overlap=1)
    with ctx.sessions() as session:
        gone = next(s for s in JobRepository(session).sources(job_id) if s.filename == "b.png")
        ctx.store.delete(gone.object_key)
    _publish(ctx, job_id)
    assert _answer(ctx, _worker(ctx), job_id, "dog", 10) == 1
    files = _run_to_delivery(ctx, job_id)
    assert files["labels.csv"].decode() == "filename,label\na.png,dog\n"
    report = json.loads(files["report.json"])
    assert report["job"]["failed_sources"] == ["b.png: the source file was deleted from storage"]


def test_deadline_delivers_what_is_final_and_marks_the_rest(ctx):
    from engine.quality.triggers import jobs_due_for_scoring

    deadline = datetime.now(UTC) + timedelta(seconds=3)
    files = [(f"i{i}.png", png_bytes(30 + i, 30)) for i in range(3)]
    job_id = _submit(ctx, files, overlap=2, deadline=deadline)
    _publish(ctx, job_id)
    # One worker answers two of the three images; nobody else comes.
    assert _answer(ctx, _worker(ctx), job_id, "cat", 2) == 2
    with ctx.sessions() as session:
        assert job_id not in jobs_due_for_scoring(session)
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.2)
    with ctx.sessions() as session:
        assert job_id in jobs_due_for_scoring(session)
    out = _run_to_delivery(ctx, job_id)
    assert out["labels.csv"].decode().count(",cat") == 2
    report = json.loads(out["report.json"])
    assert report["late_tasks"]["count"] == 1
    assert "deadline" in report["late_tasks"]["tasks"][0]["reason"]
    assert "not final" in out["report.html"].decode() or "deadline" in out["report.html"].decode()
