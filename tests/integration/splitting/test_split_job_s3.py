"""The ingest use case against the S3 backend (moto's S3 server on loopback) and PostgreSQL."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import httpx
import pytest

from engine.media.audio import probe_audio
from tests.conftest import make_client, manual_uow
from tests.media_samples import HARVARD, png_bytes
from tests.s3_server import moto_s3_server, s3_store  # noqa: F401


def test_split_job_on_s3_store(ctx, s3_store, tmp_path: Path):  # noqa: F811
    from datetime import timedelta

    from engine.jobs.intake import IncomingFile, submit_job
    from engine.jobs.repository import JobRepository
    from engine.splitting.service import split_job
    from schemas.jobs import JobSpec

    s3_ctx = dataclasses.replace(ctx, store=s3_store)
    client_id, _ = make_client(ctx)
    job_id = submit_job(
        manual_uow(ctx),
        s3_ctx.store,
        client_id=client_id,
        spec=JobSpec(kind="transcription"),
        files=[IncomingFile(HARVARD.name, io.BytesIO(HARVARD.read_bytes()))],
        max_upload_bytes=10**9,
        max_files=10,
    )
    with ctx.uow() as uow:
        assert [r.task for r in uow.outbox.for_job(job_id)] == ["kazi.ingest.split_job"]
    assert split_job(manual_uow(ctx), s3_ctx.store, job_id, s3_ctx.tiling).value == "split"
    with s3_ctx.sessions() as session:
        rows = [t for t, _ in JobRepository(session).tasks_page(job_id, 100, 0)]
    assert len(rows) >= 2
    for row in rows:
        assert row.object_key.startswith(f"clients/{client_id}/jobs/{job_id}/tasks/")
        # Presigned S3 links are what a worker's browser or app fetches.
        resp = httpx.get(s3_ctx.store.presigned_get_url(row.object_key, timedelta(minutes=5)))
        assert resp.status_code == 200
        path = tmp_path / f"{row.seq}.flac"
        path.write_bytes(resp.content)
        assert probe_audio(path).duration_seconds == pytest.approx(
            row.end_seconds - row.start_seconds, abs=0.08
        )


def test_split_image_job_on_s3_store(ctx, s3_store):  # noqa: F811
    from engine.jobs.intake import IncomingFile, submit_job
    from engine.jobs.repository import JobRepository
    from engine.splitting.service import split_job
    from schemas.jobs import JobSpec

    s3_ctx = dataclasses.replace(ctx, store=s3_store)
    client_id, _ = make_client(ctx)
    job_id = submit_job(
        manual_uow(ctx),
        s3_ctx.store,
        client_id=client_id,
        spec=JobSpec(kind="image_boxes", labels=["tree"]),
        files=[IncomingFile("wide.png", io.BytesIO(png_bytes(4200, 900)))],
        max_upload_bytes=10**9,
        max_files=10,
    )
    split_job(manual_uow(ctx), s3_ctx.store, job_id, s3_ctx.tiling)
    with s3_ctx.sessions() as session:
        rows = [t for t, _ in JobRepository(session).tasks_page(job_id, 100, 0)]
    assert len(rows) == 5
    for row in rows:
        assert s3_ctx.store.exists(row.object_key)
        assert row.box_x is not None and row.box_x + (row.box_w or 0) <= 4200
