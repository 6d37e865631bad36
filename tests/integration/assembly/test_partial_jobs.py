"""Jobs that do not finish cleanly still deliver what is final and say what is missing: a
source the client deleted before splitting, tasks without answers at the deadline."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from tests.conftest import make_client, manual_uow
from tests.media_samples import png_bytes


def _worker(ctx) -> str:  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    return ctx.in_unit_of_work(register_worker, f"p-{uuid.uuid4().hex[:10]}", "qualified").id


def _answer(ctx, worker_id: str, job_id: str, label: str, limit: int) -> int:  # type: ignore[no-untyped-def]
    from engine.work.service import DistributionSettings, lease_next, submit

    done = 0
    while done < limit:
        # Answered by hand, so no after-answer trigger runs (the sweep's case).
        with manual_uow(ctx) as uow:
            lease = lease_next(uow, worker_id, DistributionSettings(), job_id=job_id)
            if lease is None:
                break
            submit(uow, worker_id, lease.lease_id, {"label": label},
                   client_answer_id=str(uuid.uuid4()), time_spent_seconds=4.0)  # fmt: skip
            uow.commit()
        done += 1
    return done


def _run_to_delivery(ctx, job_id: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    from engine.assembly.service import assemble_job
    from engine.quality.service import QualitySettings, score_job

    with manual_uow(ctx) as uow:
        stage = score_job(
            uow, job_id, QualitySettings(review_threshold=0.0, review_sample_rate=0.0)
        )
        uow.commit()
    assert stage is not None and stage.value == "assembling", stage
    assert assemble_job(manual_uow(ctx), ctx.store, job_id).value == "delivered"  # type: ignore[union-attr]
    with ctx.uow() as uow:
        rows = {r.name: r.object_key for r in uow.assembly.deliverables(job_id)}
    return {name: ctx.store.get_bytes(key) for name, key in rows.items()}


def _submit(ctx, files, **spec):  # type: ignore[no-untyped-def]
    from engine.jobs.intake import IncomingFile, submit_job
    from schemas.jobs import JobSpec

    client_id, _ = make_client(ctx)
    return submit_job(
        manual_uow(ctx), ctx.store, client_id=client_id,
        spec=JobSpec(kind="image_classification", labels=["cat", "dog"], gold_ratio=0, **spec),
        files=[IncomingFile(n, io.BytesIO(b)) for n, b in files],
        max_upload_bytes=10**8, max_files=10,
    )  # fmt: skip


def _publish(ctx, job_id: str) -> None:  # type: ignore[no-untyped-def]
    from engine.publishing.service import begin_publishing, finish_publishing
    from engine.splitting.service import split_job

    assert split_job(manual_uow(ctx), ctx.store, job_id, ctx.tiling).value == "split"  # type: ignore[union-attr]
    assert begin_publishing(manual_uow(ctx), job_id) is not None
    finish_publishing(manual_uow(ctx), job_id, [])


def test_the_sweep_sends_a_fully_answered_job_whose_trigger_was_missed(ctx):
    from engine.quality.triggers import job_ready_after_answer, jobs_due_for_scoring

    files = [(f"s{i}.png", png_bytes(40 + i, 30)) for i in range(2)]
    job_id = _submit(ctx, files, overlap=1)
    _publish(ctx, job_id)
    with ctx.uow() as uow:
        assert not job_ready_after_answer(uow, job_id)
        assert job_id not in jobs_due_for_scoring(uow)
    # Answered without the API's trigger (as when two last answers commit at once).
    assert _answer(ctx, _worker(ctx), job_id, "cat", 10) == 2
    with ctx.uow() as uow:
        assert job_ready_after_answer(uow, job_id)
        assert job_id in jobs_due_for_scoring(uow)
    _run_to_delivery(ctx, job_id)
    with ctx.uow() as uow:
        assert not job_ready_after_answer(uow, job_id)  # delivered, not labeling
        assert job_id not in jobs_due_for_scoring(uow)


def test_a_source_deleted_before_splitting_fails_alone_and_is_reported(ctx):
    job_id = _submit(ctx, [("a.png", png_bytes(30, 30)), ("b.png", png_bytes(31, 30))], overlap=1)
    with ctx.uow() as uow:
        gone = next(s for s in uow.jobs.sources(job_id) if s.filename == "b.png")
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
    with ctx.uow() as uow:
        assert job_id not in jobs_due_for_scoring(uow)
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.2)
    with ctx.uow() as uow:
        assert job_id in jobs_due_for_scoring(uow)
    out = _run_to_delivery(ctx, job_id)
    assert out["labels.csv"].decode().count(",cat") == 2
    report = json.loads(out["report.json"])
    assert report["late_tasks"]["count"] == 1
    assert "deadline" in report["late_tasks"]["tasks"][0]["reason"]
    assert "not final" in out["report.html"].decode() or "deadline" in out["report.html"].decode()
