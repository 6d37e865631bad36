"""Assemble a job's final results into deliverables (the ``assemble`` stage's use cases).

Idempotent: every deliverable has a fixed name per job, its object is overwritten and its row
updated, so a failed assembly retried (or a job assembled again) never duplicates anything.
Objects are written with no transaction open; the rows and the stage change commit together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath

from engine.assembly.datasets import dataset_files, image_result
from engine.assembly.report_inputs import quality_report
from engine.assembly.transcripts import assemble_transcript
from engine.db.models import DeliverableRow, JobRow
from engine.deliverables.report_html import render_report_html
from engine.domain.job_stage import JobKind, JobStage
from engine.jobs.errors import JobNotFound
from engine.jobs.service import move_job_to
from engine.storage.object_keys import object_key
from engine.storage.object_store import ObjectStore
from engine.unit_of_work import UnitOfWork
from schemas.jobs import DeliverableList, DeliverableView, JobSpec

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
    store: ObjectStore, client_id: str, job_id: str, files: Mapping[str, tuple[bytes, str]]
) -> list[DeliverableRow]:
    """Write the files to the object store (no transaction open) and describe them."""
    rows = []
    for name, (content, content_type) in files.items():
        key = object_key(client_id, job_id, "deliverables", *name.split("/"))
        store.put_bytes(key, content, content_type=content_type)
        rows.append(
            DeliverableRow(
                job_id=job_id, name=name, kind=_kind_of(name), content_type=content_type,
                object_key=key, size_bytes=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
            )
        )  # fmt: skip
    return rows


def _build_files(uow: UnitOfWork, job: JobRow) -> tuple[dict[str, tuple[bytes, str]], int]:
    """Every deliverable of the job as (bytes, content type), and the count of late tasks."""
    job_id = job.id
    kind = JobKind(job.kind)
    spec = JobSpec.model_validate(job.spec)
    repo = uow.assembly
    results = repo.results(job_id)
    drafts = uow.drafts.latest_per_task(job_id)
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
    return files, int(report["late_tasks"]["count"])


def assemble_job(uow: UnitOfWork, store: ObjectStore, job_id: str) -> JobStage | None:
    """Build the deliverables from the final results, store them, then record them and move
    the job to delivered in one short transaction (a staged use case)."""
    with uow:
        job = uow.jobs.get(job_id)
        if job is None:
            return None
        if job.stage != JobStage.ASSEMBLING.value:
            return JobStage(job.stage)
        files, late = _build_files(uow, job)
        client_id = job.client_id
    rows = _store(store, client_id, job_id, files)
    with uow:
        job = uow.jobs.get(job_id, for_update=True)
        if job is None:
            return None
        if job.stage != JobStage.ASSEMBLING.value:
            return JobStage(job.stage)  # a concurrent run delivered it first
        for row in rows:
            uow.assembly.put_deliverable(row)
        detail = f"{len(files)} deliverables"
        if late:
            detail += f"; {late} tasks not final (see the report)"
        move_job_to(uow, job, JobStage.DELIVERED, detail)
        uow.commit()
    return JobStage.DELIVERED


def deliverables_of(
    uow: UnitOfWork, client_id: str, job_id: str, link: Callable[[str], str]
) -> DeliverableList:
    """A client's delivered files with download links (another client's job is not found)."""
    job = uow.jobs.get_for_client(job_id, client_id)
    if job is None:
        raise JobNotFound(f"job {job_id} not found")
    return DeliverableList(
        job_id=job_id,
        stage=job.stage,
        items=[
            DeliverableView(
                name=r.name,
                kind=r.kind,
                content_type=r.content_type,
                size_bytes=r.size_bytes,
                sha256=r.sha256,
                created_at=r.created_at,
                url=link(r.object_key),
            )  # fmt: skip
            for r in uow.assembly.deliverables(job_id)
        ],
    )
