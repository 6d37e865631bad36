"""Assemble a job's final results into deliverables (the ``assemble`` stage's use cases).

Idempotent: every deliverable has a fixed name per job, its object is overwritten and its row
updated, so a failed assembly retried (or a job assembled again) never duplicates anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.assembly.datasets import dataset_files, image_result
from engine.assembly.report_inputs import quality_report
from engine.assembly.repository import AssemblyRepository
from engine.assembly.transcripts import assemble_transcript
from engine.db.models import DeliverableRow, JobRow
from engine.deliverables.report_html import render_report_html
from engine.domain.job_stage import JobKind, JobStage
from engine.drafting.repository import DraftRepository
from engine.jobs.repository import JobRepository
from engine.jobs.service import move_job_to
from engine.storage.object_keys import object_key
from engine.storage.object_store import ObjectStore
from schemas.jobs import JobSpec

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _stem(filename: str, seq: int, used: set[str]) -> str:
    stem = _UNSAFE.sub("_", PurePosixPath(filename).stem).strip("._") or f"source-{seq}"
    candidate, n = stem, 2
    while candidate in used:  # two files called alike in one job
        candidate, n = f"{stem}-{n}", n + 1
    used.add(candidate)
    return candidate


def _kind_of(name: str) -> str:
    if name.startswith("report"):
        return "report"
    if name.endswith((".srt", ".vtt")):
        return "subtitles"
    if name.startswith(("dataset", "yolo/", "labels")):
        return "dataset"
    return "transcript"


def _store(
    repo: AssemblyRepository,
    store: ObjectStore,
    job: JobRow,
    files: Mapping[str, tuple[bytes, str]],
) -> None:
    for name, (content, content_type) in files.items():
        key = object_key(job.client_id, job.id, "deliverables", *name.split("/"))
        store.put_bytes(key, content, content_type=content_type)
        repo.put_deliverable(
            DeliverableRow(
                job_id=job.id, name=name, kind=_kind_of(name), content_type=content_type,
                object_key=key, size_bytes=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
            )
        )  # fmt: skip


def assemble_job(
    sessions: sessionmaker[Session], store: ObjectStore, job_id: str
) -> JobStage | None:
    with sessions.begin() as session:
        job = JobRepository(session).get(job_id, for_update=True)
        if job is None:
            return None
        if job.stage == JobStage.DELIVERED.value:
            return JobStage.DELIVERED
        if job.stage != JobStage.ASSEMBLING.value:
            return JobStage(job.stage)
        kind = JobKind(job.kind)
        spec = JobSpec.model_validate(job.spec)
        repo = AssemblyRepository(session)
        results = repo.results(job_id)
        drafts = DraftRepository(session).latest_per_task(job_id)
        files: dict[str, tuple[bytes, str]] = {}
        failed_sources: list[str] = []
        images = []
        all_tasks = []
        used: set[str] = set()
        gold_names = set(spec.gold_answers())
        for source in repo.sources(job_id):
            if source.filename in gold_names:
                continue  # gold files measure workers; they are not the client's deliverable
            if source.status == "failed":
                failed_sources.append(source.failure_reason or f"{source.filename}: failed")
                continue
            tasks = [t for t in repo.tasks_of_source(source.id) if not t.is_gold]
            all_tasks.extend(tasks)
            if kind is JobKind.TRANSCRIPTION:
                out = assemble_transcript(
                    source, tasks, results, drafts, _stem(source.filename, source.seq, used)
                )
                files.update(out.files)
            else:
                image = image_result(kind, source, tasks, results)
                if image is not None:
                    images.append(image)
        if kind is not JobKind.TRANSCRIPTION:
            files.update(dataset_files(kind, images, spec.labels))
        answers = repo.answers(job_id)
        report = quality_report(
            job, all_tasks, results, answers, repo.scores(job_id), repo.reviews(job_id), drafts,
            repo.worker_handles(sorted({a.worker_id for a in answers})), failed_sources,
        )  # fmt: skip
        files["report.json"] = (json.dumps(report, indent=2).encode(), "application/json")
        files["report.html"] = (render_report_html(report).encode(), "text/html; charset=utf-8")
        _store(repo, store, job, files)
        late = int(report["late_tasks"]["count"])
        detail = f"{len(files)} deliverables"
        if late:
            detail += f"; {late} tasks not final (see the report)"
        move_job_to(session, job, JobStage.DELIVERED, detail)
        return JobStage.DELIVERED


def callback_secret(signing_secret: str, client_id: str) -> str:
    """Each client's key for checking delivery callbacks (``X-Kazi-Signature``)."""
    return hmac.new(
        signing_secret.encode(), f"callback\n{client_id}".encode(), "sha256"
    ).hexdigest()


def callback_payload(session: Session, job_id: str) -> tuple[str, dict[str, Any], str] | None:
    """(url, body, client id) for a delivered job with a callback URL, else None."""
    job = JobRepository(session).get(job_id)
    if job is None or job.stage != JobStage.DELIVERED.value:
        return None
    url = JobSpec.model_validate(job.spec).callback_url
    if url is None:
        return None
    names = [d.name for d in AssemblyRepository(session).deliverables(job_id)]
    body = {"event": "job.delivered", "job_id": job_id,
            "delivered_at": datetime.now(UTC).isoformat(), "deliverables": names}  # fmt: skip
    return str(url), body, job.client_id


def sign_callback(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
