"""Split a job's source media into microtasks (the ``ingest`` stage's use case).

Idempotent: task ids and object keys derive from (source, seq), so a redelivered or repeated
run rewrites the same objects and inserts no duplicate task. Each source is split outside any
transaction (download, decode, upload), then its tasks are recorded in one short transaction.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.db.models import TaskRow
from engine.domain.job_stage import JobStage
from engine.jobs.service import move_job_to
from engine.media.errors import MediaError
from engine.splitting.audio_splitter import split_audio_file
from engine.splitting.image_splitter import split_image_file
from engine.storage.object_keys import object_key
from engine.storage.object_store import ObjectNotFound, ObjectStore
from engine.unit_of_work import UnitOfWork
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


@dataclass(frozen=True)
class SourceToSplit:
    id: str
    job_id: str
    client_id: str
    filename: str
    object_key: str
    media_type: str


@dataclass
class SplitOutcome:
    tasks: list[TaskRow]
    # Facts learnt while decoding, written onto the source row.
    source_facts: Mapping[str, float | int | None]


def _audio_tasks(
    store: ObjectStore, source: SourceToSplit, spec: JobSpec, src: Path, work: Path
) -> SplitOutcome:
    split = split_audio_file(
        src,
        work,
        max_segment_seconds=spec.max_segment_seconds,
        overlap_seconds=spec.segment_overlap_seconds,
    )
    tasks = []
    for seg in split.segments:
        base = object_key(source.client_id, source.job_id, "tasks", source.id, f"{seg.seq:05d}")
        flac_key, opus_key = base + ".flac", base + ".opus"
        store.put_file(flac_key, seg.flac_path, content_type="audio/flac")
        store.put_file(opus_key, seg.opus_path, content_type="audio/ogg")
        tasks.append(
            TaskRow(
                id=task_id_for(source.id, seg.seq),
                job_id=source.job_id,
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
    facts = {
        "duration_seconds": split.info.duration_seconds,
        "sample_rate": split.info.sample_rate,
    }
    return SplitOutcome(tasks, facts)


def _image_tasks(
    store: ObjectStore, source: SourceToSplit, tiling: TilingSettings, src: Path, work: Path
) -> SplitOutcome:
    split = split_image_file(
        src,
        work,
        threshold_px=tiling.threshold_px,
        tile_px=tiling.tile_px,
        overlap_px=tiling.overlap_px,
        max_pixels=tiling.max_pixels,
    )
    tiled = len(split.tiles) > 1
    tasks = []
    for tile in split.tiles:
        key = source.object_key
        if tile.path is not None:
            key = object_key(
                source.client_id, source.job_id, "tasks", source.id,
                f"{tile.seq:05d}{tile.path.suffix}",
            )  # fmt: skip
            content_type = "image/jpeg" if tile.path.suffix in {".jpg", ".jpeg"} else "image/png"
            store.put_file(key, tile.path, content_type=content_type)
        tasks.append(
            TaskRow(
                id=task_id_for(source.id, tile.seq),
                job_id=source.job_id,
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
    return SplitOutcome(tasks, {"width": split.info.width, "height": split.info.height})


def _cut(
    store: ObjectStore, source: SourceToSplit, spec: JobSpec, tiling: TilingSettings
) -> SplitOutcome | str:
    """Download, decode and cut one source, uploading its task media (no transaction open).
    Returns the outcome, or the reason the source is unusable."""
    with tempfile.TemporaryDirectory(prefix="kazi-split-") as tmp:
        work = Path(tmp)
        src = work / ("source" + Path(source.object_key).suffix)
        try:
            store.download_to(source.object_key, src)
            if source.media_type == "audio":
                return _audio_tasks(store, source, spec, src, work)
            return _image_tasks(store, source, tiling, src, work)
        except ObjectNotFound:
            return f"{source.filename}: the source file was deleted from storage"
        except MediaError as exc:
            return f"{source.filename}: {exc.reason}"


def _gold_problem(source: SourceToSplit, spec: JobSpec, outcome: SplitOutcome) -> str | None:
    gold = spec.gold_answers().get(source.filename)
    if gold is None:
        return None
    if len(outcome.tasks) != 1:
        return (
            f"{source.filename}: a gold file must make exactly one task "
            f"(it made {len(outcome.tasks)}); use a shorter clip or a smaller image"
        )
    outcome.tasks[0].is_gold, outcome.tasks[0].gold_answer = True, gold
    return None


def _split_source(
    uow: UnitOfWork, store: ObjectStore, source: SourceToSplit, spec: JobSpec,
    tiling: TilingSettings,
) -> str | None:  # fmt: skip
    """Split one source; returns the failure reason, or None when it produced tasks."""
    cut = _cut(store, source, spec, tiling)
    failure = cut if isinstance(cut, str) else _gold_problem(source, spec, cut)
    with uow:
        # The row lock orders this with a concurrent redelivery of the same split.
        row = uow.jobs.get_source(source.id, for_update=True)
        if row is None or row.status != "stored":
            return row.failure_reason if row else None
        if failure is not None or isinstance(cut, str):
            row.status, row.failure_reason = "failed", failure
        else:
            for name, value in cut.source_facts.items():
                setattr(row, name, value)
            existing = uow.jobs.task_seqs(source.id)
            uow.jobs.add_tasks([t for t in cut.tasks if t.seq not in existing])
            row.status = "split"
        uow.commit()
    return failure


def split_job(
    uow: UnitOfWork, store: ObjectStore, job_id: str, tiling: TilingSettings
) -> JobStage | None:
    """Split every stored source of a job; returns the job's resulting stage (None: no such job)."""
    with uow:
        job = uow.jobs.get(job_id, for_update=True)
        if job is None:
            log.warning("split_job: job %s no longer exists", job_id)
            return None
        if job.stage not in (JobStage.RECEIVED.value, JobStage.SPLITTING.value):
            return JobStage(job.stage)  # split already (a redelivered or resent message)
        move_job_to(uow, job, JobStage.SPLITTING)
        spec = JobSpec.model_validate(job.spec)
        sources = [
            (SourceToSplit(s.id, job.id, job.client_id, s.filename, s.object_key, s.media_type),
             s.status, s.failure_reason)
            for s in uow.jobs.sources(job_id)
        ]  # fmt: skip
        uow.commit()

    failures = [reason for _, status, reason in sources if status == "failed" and reason]
    for source, status, _ in sources:
        if status == "stored":
            reason = _split_source(uow, store, source, spec, tiling)
            if reason:
                failures.append(reason)

    with uow:
        job_row = uow.jobs.get(job_id, for_update=True)
        if job_row is None:
            return None
        if job_row.stage != JobStage.SPLITTING.value:
            # A concurrent run of the same job finished first.
            return JobStage(job_row.stage)
        if len(failures) == len(sources):
            move_job_to(uow, job_row, JobStage.FAILED, "no usable media: " + "; ".join(failures))
            uow.commit()
            return JobStage.FAILED
        ok = len(sources) - len(failures)
        detail = f"{ok} of {len(sources)} sources split into {uow.jobs.count_tasks(job_id)} tasks"
        if failures:
            detail += "; failed: " + "; ".join(failures)
        move_job_to(uow, job_row, JobStage.SPLIT, detail)
        uow.commit()
        return JobStage.SPLIT
