"""Split a job's source media into microtasks (the ``ingest`` stage's use case).

Idempotent: task ids and object keys derive from (source, seq), so a redelivered or repeated
run rewrites the same objects and inserts no duplicate task.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from engine.db.models import JobRow, SourceMediaRow, TaskRow
from engine.domain.job_stage import JobStage
from engine.jobs.repository import JobRepository
from engine.jobs.service import move_job_to
from engine.media.errors import MediaError
from engine.splitting.audio_splitter import split_audio_file
from engine.splitting.image_splitter import split_image_file
from engine.storage.object_keys import object_key
from engine.storage.object_store import ObjectNotFound, ObjectStore
from schemas.jobs import JobSpec

log = logging.getLogger(__name__)

TASK_ID_NAMESPACE = uuid.UUID("8f5b7c1e-2a8e-4d55-9a53-6c1f0f7d2b10")


@dataclass(frozen=True)
class TilingSettings:
    threshold_px: int
    tile_px: int
    overlap_px: int
    max_pixels: int


def task_id_for(source_id: str, seq: int) -> str:
    return str(uuid.uuid5(TASK_ID_NAMESPACE, f"{source_id}:{seq}"))


def _audio_tasks(
    store: ObjectStore, job: JobRow, source: SourceMediaRow, spec: JobSpec, src: Path, work: Path
) -> list[TaskRow]:
    split = split_audio_file(
        src,
        work,
        max_segment_seconds=spec.max_segment_seconds,
        overlap_seconds=spec.segment_overlap_seconds,
    )
    source.duration_seconds = split.info.duration_seconds
    source.sample_rate = split.info.sample_rate
    tasks = []
    for seg in split.segments:
        base = object_key(job.client_id, job.id, "tasks", source.id, f"{seg.seq:05d}")
        flac_key, opus_key = base + ".flac", base + ".opus"
        store.put_file(flac_key, seg.flac_path, content_type="audio/flac")
        store.put_file(opus_key, seg.opus_path, content_type="audio/ogg")
        tasks.append(
            TaskRow(
                id=task_id_for(source.id, seg.seq),
                job_id=job.id,
                source_id=source.id,
                seq=seg.seq,
                kind="audio_segment",
                object_key=flac_key,
                lowres_object_key=opus_key,
                start_seconds=round(seg.start, 3),
                end_seconds=round(seg.end, 3),
                has_speech=seg.has_speech,
                hard_cut=seg.hard_cut,
            )
        )
    return tasks


def _image_tasks(
    store: ObjectStore,
    job: JobRow,
    source: SourceMediaRow,
    tiling: TilingSettings,
    src: Path,
    work: Path,
) -> list[TaskRow]:
    split = split_image_file(
        src,
        work,
        threshold_px=tiling.threshold_px,
        tile_px=tiling.tile_px,
        overlap_px=tiling.overlap_px,
        max_pixels=tiling.max_pixels,
    )
    source.width, source.height = split.info.width, split.info.height
    tiled = len(split.tiles) > 1
    tasks = []
    for tile in split.tiles:
        key = source.object_key
        if tile.path is not None:
            key = object_key(
                job.client_id, job.id, "tasks", source.id, f"{tile.seq:05d}{tile.path.suffix}"
            )
            content_type = "image/jpeg" if tile.path.suffix in {".jpg", ".jpeg"} else "image/png"
            store.put_file(key, tile.path, content_type=content_type)
        tasks.append(
            TaskRow(
                id=task_id_for(source.id, tile.seq),
                job_id=job.id,
                source_id=source.id,
                seq=tile.seq,
                kind="image_tile" if tiled else "image",
                object_key=key,
                box_x=int(tile.box.x),
                box_y=int(tile.box.y),
                box_w=int(tile.box.w),
                box_h=int(tile.box.h),
            )
        )
    return tasks


def _split_source(
    sessions: sessionmaker[Session],
    store: ObjectStore,
    job: JobRow,
    source_id: str,
    spec: JobSpec,
    tiling: TilingSettings,
) -> str | None:
    """Split one source; returns the failure reason, or None when it produced tasks."""
    with tempfile.TemporaryDirectory(prefix="kazi-split-") as tmp:
        work = Path(tmp)
        with sessions.begin() as session:
            # The row lock makes a concurrent redelivery wait, then find the source done.
            source = session.get(SourceMediaRow, source_id, with_for_update=True)
            if source is None or source.status != "stored":
                return source.failure_reason if source else None
            src = work / ("source" + Path(source.object_key).suffix)
            try:
                store.download_to(source.object_key, src)
                if source.media_type == "audio":
                    tasks = _audio_tasks(store, job, source, spec, src, work)
                else:
                    tasks = _image_tasks(store, job, source, tiling, src, work)
            except ObjectNotFound:
                reason = f"{source.filename}: the source file was deleted from storage"
            except MediaError as exc:
                reason = f"{source.filename}: {exc.reason}"
            else:
                gold = spec.gold_answers().get(source.filename)
                if gold is not None:
                    if len(tasks) != 1:
                        source.status = "failed"
                        source.failure_reason = (
                            f"{source.filename}: a gold file must make exactly one task "
                            f"(it made {len(tasks)}); use a shorter clip or a smaller image"
                        )
                        return source.failure_reason
                    tasks[0].is_gold, tasks[0].gold_answer = True, gold
                repo = JobRepository(session)
                existing = repo.task_seqs(source.id)
                repo.add_tasks([t for t in tasks if t.seq not in existing])
                source.status = "split"
                return None
            source.status = "failed"
            source.failure_reason = reason
            return reason


def split_job(
    sessions: sessionmaker[Session], store: ObjectStore, job_id: str, tiling: TilingSettings
) -> JobStage | None:
    """Split every stored source of a job; returns the job's resulting stage (None: no such job)."""
    with sessions.begin() as session:
        job = JobRepository(session).get(job_id, for_update=True)
        if job is None:
            log.warning("split_job: job %s no longer exists", job_id)
            return None
        if job.stage in (JobStage.SPLIT.value, JobStage.FAILED.value):
            return JobStage(job.stage)
        move_job_to(session, job, JobStage.SPLITTING)
        session.flush()
        session.expunge(job)
    spec = JobSpec.model_validate(job.spec)

    with sessions() as session:
        sources = [
            (s.id, s.status, s.failure_reason) for s in JobRepository(session).sources(job_id)
        ]
    failures = [reason for _, status, reason in sources if status == "failed" and reason]
    for source_id, status, _ in sources:
        if status == "stored":
            reason = _split_source(sessions, store, job, source_id, spec, tiling)
            if reason:
                failures.append(reason)

    with sessions.begin() as session:
        job_row = JobRepository(session).get(job_id, for_update=True)
        assert job_row is not None
        if job_row.stage != JobStage.SPLITTING.value:
            # A concurrent run of the same job finished first.
            return JobStage(job_row.stage)
        if len(failures) == len(sources):
            move_job_to(
                session, job_row, JobStage.FAILED, "no usable media: " + "; ".join(failures)
            )
            return JobStage.FAILED
        ok = len(sources) - len(failures)
        n_tasks = JobRepository(session).count_tasks(job_id)
        detail = f"{ok} of {len(sources)} sources split into {n_tasks} tasks"
        if failures:
            detail += "; failed: " + "; ".join(failures)
        move_job_to(session, job_row, JobStage.SPLIT, detail)
        return JobStage.SPLIT
