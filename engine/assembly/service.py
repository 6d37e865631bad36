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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from engine.assembly.datasets import (
    dataset_files,
    gold_image_result,
    image_copies,
    image_result,
    images_folder,
)
from engine.assembly.report_inputs import quality_report
from engine.assembly.transcripts import assemble_transcript
from engine.billing.delivery import cost_figures, invoice_files, settle_delivery
from engine.billing.service import JobCharge
from engine.db.models import DeliverableRow, JobRow, SourceMediaRow
from engine.deliverables.dataset_formats import ImageResult
from engine.deliverables.report_html import render_report_html
from engine.deliverables.transcript_formats import to_txt
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


# Task statuses once the job is delivered: its result is in the deliverables, or it is not
# (reported in the report's late tasks). A failed task keeps "failed".
TASK_FINAL = "final"
TASK_LATE = "late"
GOLD_FOLDER = "gold/"


def _kind_of(name: str, content_type: str) -> str:
    if name.startswith(GOLD_FOLDER):
        return "gold"
    if content_type.startswith("image/"):
        return "image"
    if name.startswith("report"):
        return "report"
    if name.startswith("invoice"):
        return "invoice"
    if name.endswith((".srt", ".vtt")):
        return "subtitles"
    if name.startswith(("dataset", "yolo/", "labels")):
        return "dataset"
    return "transcript"


@dataclass
class _Assembly:
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # name -> (bytes, type)
    copies: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (key, type)
    task_statuses: dict[str, str] = field(default_factory=dict)
    late: int = 0
    charge: JobCharge | None = None  # a paid job's charge, as its invoice shows it


def _row(job_id: str, name: str, key: str, content: bytes, content_type: str) -> DeliverableRow:
    return DeliverableRow(
        job_id=job_id, name=name, kind=_kind_of(name, content_type), content_type=content_type,
        object_key=key, size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest(),
    )  # fmt: skip


def _store(store: ObjectStore, client_id: str, job_id: str, out: _Assembly) -> list[DeliverableRow]:
    """Write the files (and copy the source images asked for) to the object store, with no
    transaction open, and describe them."""
    rows = []
    keys = _DeliverableKeys(client_id, job_id)
    for name, (content, content_type) in out.files.items():
        key = keys.key_for(name)
        store.put_bytes(key, content, content_type=content_type)
        rows.append(_row(job_id, name, key, content, content_type))
    for name, (source_key, content_type) in out.copies.items():
        content = store.get_bytes(source_key)
        key = keys.key_for(name)
        store.put_bytes(key, content, content_type=content_type)
        rows.append(_row(job_id, name, key, content, content_type))
    return rows


class _DeliverableKeys:
    """Storage keys for deliverable names. A name keeps the client's file name (spaces and
    all, e.g. a YOLO label beside its image); its key uses only safe characters, made unique."""

    def __init__(self, client_id: str, job_id: str) -> None:
        self._client_id, self._job_id = client_id, job_id
        self._used: set[str] = set()

    def key_for(self, name: str) -> str:
        parts = [_UNSAFE.sub("_", part).strip(".") or "_" for part in name.split("/")]
        candidate, n = parts, 2
        while "/".join(candidate) in self._used:
            stem, dot, ext = parts[-1].rpartition(".")
            last = f"{stem}-{n}.{ext}" if dot else f"{parts[-1]}-{n}"
            candidate, n = [*parts[:-1], last], n + 1
        self._used.add("/".join(candidate))
        return object_key(self._client_id, self._job_id, "deliverables", *candidate)


def _gold_transcript(source: SourceMediaRow, text: str, stem: str) -> dict[str, tuple[bytes, str]]:
    """A gold recording's known transcript (no word times: nobody's answer is delivered)."""
    data = {"source": source.filename, "source_sha256": source.sha256, "gold": True, "text": text}
    return {
        f"{GOLD_FOLDER}{stem}.txt": (to_txt(text).encode(), "text/plain; charset=utf-8"),
        f"{GOLD_FOLDER}{stem}.json": (
            json.dumps(data, ensure_ascii=False).encode(),
            "application/json",
        ),
    }


def _build_files(uow: UnitOfWork, job: JobRow) -> _Assembly:
    """Every deliverable of the job, the images to copy, and each task's status once delivered.

    Gold files are delivered too, with their known answer, under ``gold/`` (the report lists
    them, and any gold file withheld with the reason)."""
    job_id = job.id
    kind = JobKind(job.kind)
    spec = JobSpec.model_validate(job.spec)
    repo = uow.assembly
    results = repo.results(job_id)
    drafts = uow.drafts.latest_per_task(job_id)
    out = _Assembly()
    failed_sources: list[str] = []
    images: list[ImageResult] = []
    imaged_sources: list[SourceMediaRow] = []
    gold_images: list[ImageResult] = []
    gold_sources: list[SourceMediaRow] = []
    gold_report: list[dict[str, str]] = []
    all_tasks = []
    used: set[str] = set()
    gold_used: set[str] = set()
    gold_answers = spec.gold_answers()
    for source in repo.sources(job_id):
        source_tasks = repo.tasks_of_source(source.id)
        if source.filename in gold_answers:
            for task in source_tasks:  # its answer is known: final from the start
                if task.status != "failed":
                    out.task_statuses[task.id] = TASK_FINAL
            answer = gold_answers[source.filename]
            if source.status == "failed":
                reason = source.failure_reason or "the source failed"
                gold_report.append({"filename": source.filename, "withheld": reason})
            elif kind is JobKind.TRANSCRIPTION:
                stem = _stem(source.filename, source.seq, gold_used)
                out.files.update(_gold_transcript(source, str(answer["text"]), stem))
                gold_report.append({"filename": source.filename, "delivered": f"gold/{stem}.txt"})
            else:
                try:
                    gold_images.append(gold_image_result(kind, source, answer))
                except ValueError as error:
                    gold_report.append({"filename": source.filename, "withheld": str(error)})
                else:
                    gold_sources.append(source)
                    gold_report.append({"filename": source.filename, "delivered": "gold/"})
            continue
        if source.status == "failed":
            failed_sources.append(source.failure_reason or f"{source.filename}: failed")
            continue
        tasks = [t for t in source_tasks if not t.is_gold]
        all_tasks.extend(tasks)
        for task in tasks:
            if task.status != "failed":
                result = results.get(task.id)
                final = result is not None and result.final is not None
                out.task_statuses[task.id] = TASK_FINAL if final else TASK_LATE
        if kind is JobKind.TRANSCRIPTION:
            transcript = assemble_transcript(
                source, tasks, results, drafts, _stem(source.filename, source.seq, used)
            )
            out.files.update(transcript.files)
        else:
            image = image_result(kind, source, tasks, results)
            if image is not None:
                images.append(image)
                imaged_sources.append(source)
    if kind is not JobKind.TRANSCRIPTION:
        out.files.update(dataset_files(kind, images, spec.labels))
        if gold_images:
            out.files.update(dataset_files(kind, gold_images, spec.labels, GOLD_FOLDER))
        if spec.deliver_images:
            out.copies.update(image_copies(kind, imaged_sources))
            out.copies.update(image_copies(kind, gold_sources, GOLD_FOLDER))
    answers = repo.answers(job_id)
    report = quality_report(
        job, all_tasks, results, answers, repo.scores(job_id), repo.reviews(job_id), drafts,
        repo.worker_handles(sorted({a.worker_id for a in answers})), failed_sources,
    )  # fmt: skip
    report["gold_files"] = gold_report
    if spec.deliver_images and kind is not JobKind.TRANSCRIPTION:
        report["images_folder"] = images_folder(kind)
    billed = invoice_files(uow, job)  # a paid job: invoice.json and invoice.html
    if billed is not None:
        invoice, out.charge = billed
        out.files.update(invoice)
        delivered = [s for s in repo.sources(job_id) if s.filename not in gold_answers]
        report["cost"] = cost_figures(out.charge, delivered, len(all_tasks))
    out.files["report.json"] = (json.dumps(report, indent=2).encode(), "application/json")
    out.files["report.html"] = (render_report_html(report).encode(), "text/html; charset=utf-8")
    out.late = int(report["late_tasks"]["count"])
    return out


def assemble_job(uow: UnitOfWork, store: ObjectStore, job_id: str) -> JobStage | None:
    """Build the deliverables from the final results, store them, then record them, mark each
    task final (or late) and move the job to delivered in one short transaction (a staged use
    case)."""
    with uow:
        job = uow.jobs.get(job_id)
        if job is None:
            return None
        if job.stage != JobStage.ASSEMBLING.value:
            return JobStage(job.stage)
        out = _build_files(uow, job)
        client_id = job.client_id
    rows = _store(store, client_id, job_id, out)
    with uow:
        job = uow.jobs.get(job_id, for_update=True)
        if job is None:
            return None
        if job.stage != JobStage.ASSEMBLING.value:
            return JobStage(job.stage)  # a concurrent run delivered it first
        for row in rows:
            uow.assembly.put_deliverable(row)
        uow.jobs.set_task_statuses(out.task_statuses)
        detail = f"{len(rows)} deliverables"
        if out.late:
            detail += f"; {out.late} tasks not final (see the report)"
        move_job_to(uow, job, JobStage.DELIVERED, detail)
        settle_delivery(uow, job_id, out.charge)  # the fee, and the reservation's rest back
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
