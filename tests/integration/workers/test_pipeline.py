"""The ingest stage end to end: API → Redis broker → a real Celery worker → PostgreSQL + store."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import manual_uow, wait_for_stage
from tests.media_samples import (
    HARVARD,
    decompression_bomb_png,
    png_bytes,
    speech_wav_bytes,
    truncated_flac,
    zero_length_wav,
)

SETTLED = {"labeling", "failed"}
# Audio jobs go on from split to drafting, then both kinds are published for work.
AUDIO_DONE = {"labeling", "failed"}


def _submit(api, auth, files, spec):  # type: ignore[no-untyped-def]
    resp = api.post(
        "/v1/jobs",
        headers=auth,
        data={"spec": json.dumps(spec)},
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def _tasks(api, auth, job_id):  # type: ignore[no-untyped-def]
    resp = api.get(f"/v1/jobs/{job_id}/tasks", headers=auth, params={"limit": 1000})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def test_audio_job_is_split_into_playable_segments(api, ctx, client_auth, celery_worker_process):
    from engine.media.audio import probe_audio

    _, auth = client_auth
    job_id = _submit(api, auth, [(HARVARD.name, HARVARD.read_bytes())], {"kind": "transcription"})
    assert wait_for_stage(ctx, job_id, AUDIO_DONE, worker=celery_worker_process) == "labeling"

    job = api.get(f"/v1/jobs/{job_id}", headers=auth).json()
    stages = [e["stage"] for e in job["stage_history"]]
    assert stages == [
        "received", "splitting", "split", "drafting", "drafted", "publishing", "labeling"
    ]  # fmt: skip
    duration = job["sources"][0]["duration_seconds"]
    assert duration == pytest.approx(35.5, abs=0.3)
    tasks = _tasks(api, auth, job_id)
    assert len(tasks) >= 2
    assert tasks[0]["start"] == 0.0 and tasks[-1]["end"] == pytest.approx(duration, abs=0.01)
    for prev, nxt in zip(tasks, tasks[1:], strict=False):
        # Consecutive segments overlap by the configured 0.5 s, so no word is lost at a cut.
        assert prev["end"] - nxt["start"] == pytest.approx(0.5, abs=0.002)
    for task in tasks:
        assert task["end"] - task["start"] <= 30.0 + 1e-6
        assert task["media_url"] and task["lowres_media_url"]
    # The stored segment plays: it decodes to its stated length.
    from engine.jobs.repository import JobRepository

    with ctx.sessions() as session:
        rows = [t for t, _ in JobRepository(session).tasks_page(job_id, 1000, 0)]
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            for key in (row.object_key, row.lowres_object_key):
                assert key is not None
                path = ctx.store.download_to(key, Path(tmp) / Path(key).name)
                info = probe_audio(path)
                assert info.duration_seconds == pytest.approx(
                    row.end_seconds - row.start_seconds, abs=0.08
                )


def test_large_image_is_tiled_and_small_one_is_one_task(
    api, ctx, client_auth, celery_worker_process
):
    _, auth = client_auth
    job_id = _submit(
        api,
        auth,
        [("big.png", png_bytes(5000, 3000)), ("small.png", png_bytes(800, 600, (9, 9, 9)))],
        {"kind": "image_boxes", "labels": ["car", "person"]},
    )
    assert wait_for_stage(ctx, job_id, SETTLED, worker=celery_worker_process) == "labeling"
    tasks = _tasks(api, auth, job_id)
    big = [t for t in tasks if t["source_filename"] == "big.png"]
    small = [t for t in tasks if t["source_filename"] == "small.png"]
    assert len(small) == 1 and small[0]["kind"] == "image" and small[0]["box"] == [0, 0, 800, 600]
    assert len(big) > 1 and all(t["kind"] == "image_tile" for t in big)
    for t in big:
        x, y, w, h = t["box"]
        assert x >= 0 and y >= 0 and x + w <= 5000 and y + h <= 3000
        assert max(w, h) <= ctx.settings.tile_size_px
    covered = np.zeros((3000, 5000), dtype=bool)
    for t in big:
        x, y, w, h = t["box"]
        covered[y : y + h, x : x + w] = True
    assert covered.all()


@pytest.mark.parametrize(
    ("name", "data", "kind", "reason"),
    [
        ("cut.flac", truncated_flac(), "transcription", "cut.flac:"),
        ("silence.wav", zero_length_wav(), "transcription", "silence.wav:"),
        ("bomb.png", decompression_bomb_png(), "image_classification", "bomb.png:"),
    ],
    ids=["truncated audio", "zero-length audio", "decompression bomb"],
)
def test_bad_media_fails_only_its_job_with_a_reason(
    api, ctx, client_auth, celery_worker_process, name, data, kind, reason
):
    _, auth = client_auth
    spec = {"kind": kind, "labels": ["a", "b"]} if kind != "transcription" else {"kind": kind}
    bad = _submit(api, auth, [(name, data)], spec)
    good = _submit(api, auth, [("ok.wav", speech_wav_bytes())], {"kind": "transcription"})
    assert wait_for_stage(ctx, bad, SETTLED, worker=celery_worker_process) == "failed"
    assert wait_for_stage(ctx, good, AUDIO_DONE, worker=celery_worker_process) == "labeling"
    detail = api.get(f"/v1/jobs/{bad}", headers=auth).json()
    assert detail["failure_reason"].startswith("no usable media: " + reason)
    assert detail["sources"][0]["status"] == "failed"
    assert len(detail["failure_reason"]) > len("no usable media: " + reason) + 10
    # The client's original is kept, so nothing is lost.
    from engine.jobs.repository import JobRepository

    with ctx.sessions() as session:
        key = JobRepository(session).sources(bad)[0].object_key
    assert ctx.store.get_bytes(key) == data


def test_one_corrupt_file_fails_only_that_source(api, ctx, client_auth, celery_worker_process):
    _, auth = client_auth
    job_id = _submit(
        api,
        auth,
        [("good.wav", speech_wav_bytes()), ("cut.flac", truncated_flac())],
        {"kind": "transcription"},
    )
    assert wait_for_stage(ctx, job_id, AUDIO_DONE, worker=celery_worker_process) == "labeling"
    detail = api.get(f"/v1/jobs/{job_id}", headers=auth).json()
    status = {s["filename"]: s for s in detail["sources"]}
    assert status["good.wav"]["status"] == "split"
    assert status["cut.flac"]["status"] == "failed" and status["cut.flac"]["failure_reason"]
    split_event = next(e for e in detail["stage_history"] if e["stage"] == "split")
    assert "failed: cut.flac" in split_event["detail"]
    assert detail["tasks_total"] >= 1


def test_splitting_twice_makes_no_duplicate_tasks(api, ctx, client_auth, celery_worker_process):
    from engine.db.models import SourceMediaRow
    from engine.jobs.repository import JobRepository
    from engine.pipeline.routing import SPLIT_JOB
    from engine.splitting.service import split_job

    _, auth = client_auth
    job_id = _submit(api, auth, [(HARVARD.name, HARVARD.read_bytes())], {"kind": "transcription"})
    wait_for_stage(ctx, job_id, AUDIO_DONE, worker=celery_worker_process)
    first = sorted((t["id"], t["start"], t["end"]) for t in _tasks(api, auth, job_id))

    # A redelivered message finds the job split and does nothing.
    ctx.queue.send(SPLIT_JOB.task, [job_id], SPLIT_JOB.queue)
    # Splitting the same source again (as after a crash before the source was marked) reuses ids.
    with ctx.sessions.begin() as session:
        for source in JobRepository(session).sources(job_id):
            session.get(SourceMediaRow, source.id).status = "stored"  # type: ignore[union-attr]
        job = JobRepository(session).get(job_id)
        job.stage = "splitting"  # type: ignore[union-attr]
    split_job(manual_uow(ctx), ctx.store, job_id, ctx.tiling)
    second = sorted((t["id"], t["start"], t["end"]) for t in _tasks(api, auth, job_id))
    assert second == first
