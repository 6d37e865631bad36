"""Intake use cases: accept a client's job, store its media once, queue it for splitting."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from sqlalchemy.orm import Session

from engine.db.models import JobRow, SourceMediaRow
from engine.domain.job_stage import JobKind, JobStage
from engine.domain.media_sniffing import SNIFF_BYTES, UnsupportedMedia, identify_upload
from engine.domain.upload_filename import BadFilename, check_upload_filename
from engine.jobs.errors import InvalidUpload, SourceNotFound, UnsupportedUpload, UploadTooLarge
from engine.jobs.repository import JobRepository
from engine.storage.object_keys import InvalidObjectKey, client_prefix, object_key, validate_key
from engine.storage.object_store import ObjectStore, ObjectTooLarge
from schemas.jobs import JobSpec, SourceRef


@dataclass
class IncomingFile:
    filename: str | None
    stream: BinaryIO


class _PrefixedStream(io.RawIOBase):
    """Replays bytes already read for sniffing, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


EnqueueSplit = Callable[[str], None]

log = logging.getLogger(__name__)


def _enqueue_or_leave_for_requeue(enqueue_split: EnqueueSplit, job_id: str) -> None:
    # The job is saved; if the broker is unreachable now, requeue_stalled_jobs picks it up later.
    try:
        enqueue_split(job_id)
    except Exception:
        log.exception("could not queue job %s for splitting; it will be requeued", job_id)


def requeue_stalled_jobs(
    session: Session, enqueue_split: EnqueueSplit, older_than: timedelta = timedelta(minutes=2)
) -> list[str]:
    """Queue again jobs received but never picked up (their enqueue was lost)."""
    cutoff = datetime.now(UTC) - older_than
    job_ids = JobRepository(session).ids_in_stage_since(JobStage.RECEIVED.value, cutoff)
    for job_id in job_ids:
        enqueue_split(job_id)
    return job_ids


def _valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except InvalidObjectKey:
        return False
    return True


def _check_deadline(spec: JobSpec) -> None:
    # Checked at intake only: a stored spec stays valid after its deadline passes.
    if spec.deadline is not None and spec.deadline <= datetime.now(UTC):
        raise InvalidUpload("deadline is in the past")


def _check_gold_names(spec: JobSpec, raw_names: Sequence[str | None]) -> None:
    names = set()
    for raw in raw_names:
        try:
            names.add(check_upload_filename(raw))
        except BadFilename:
            continue  # reported with its own message when the file is stored
    missing = sorted(set(spec.gold_answers()) - names)
    if missing:
        raise InvalidUpload(f"gold names files that are not in the job: {', '.join(missing)}")


def _check_kind(spec: JobSpec, filename: str, media_type: str) -> None:
    if media_type != spec.kind.media_type:
        raise UnsupportedUpload(
            f"{filename!r} is {media_type}, "
            f"but a {spec.kind.value} job takes {spec.kind.media_type}"
        )


def _new_job(repo: JobRepository, client_id: str, spec: JobSpec) -> JobRow:
    job = JobRow(
        id=str(uuid.uuid4()),
        client_id=client_id,
        kind=spec.kind.value,
        spec=spec.model_dump(mode="json"),
        stage=JobStage.RECEIVED.value,
    )
    repo.add(job)
    repo.add_stage_event(job.id, JobStage.RECEIVED.value)
    return job


def _store_source(
    repo: JobRepository,
    store: ObjectStore,
    job: JobRow,
    spec: JobSpec,
    seq: int,
    raw_name: str | None,
    stream: BinaryIO,
    max_bytes: int,
    written: list[str],
) -> SourceMediaRow | None:
    """Stream one file into the store. Returns None when the job already has identical bytes."""
    try:
        filename = check_upload_filename(raw_name)
    except BadFilename as exc:
        raise InvalidUpload(str(exc)) from exc
    head = stream.read(SNIFF_BYTES)
    if not head:
        raise InvalidUpload(f"{filename!r} is empty")
    try:
        sniffed = identify_upload(filename, head)
    except UnsupportedMedia as exc:
        raise UnsupportedUpload(str(exc)) from exc
    _check_kind(spec, filename, sniffed.media_type)

    source_id = str(uuid.uuid4())
    # The key uses an id, never the client's filename.
    key = object_key(job.client_id, job.id, "sources", f"{source_id}{sniffed.extension}")
    try:
        stored = store.put_stream(
            key,
            io.BufferedReader(_PrefixedStream(head, stream), buffer_size=1024 * 1024),
            content_type=sniffed.content_type,
            max_bytes=max_bytes,
        )
    except ObjectTooLarge as exc:
        raise UploadTooLarge(f"{filename!r} is larger than the limit of {max_bytes} bytes") from exc
    written.append(key)

    if repo.source_with_sha(job.id, stored.sha256) is not None:
        # Identical bytes are stored once per job.
        store.delete(key)
        written.remove(key)
        return None
    source = SourceMediaRow(
        id=source_id,
        job_id=job.id,
        seq=seq,
        filename=filename,
        object_key=key,
        sha256=stored.sha256,
        size_bytes=stored.size,
        media_type=sniffed.media_type,
        content_type=sniffed.content_type,
    )
    repo.add_source(source)
    return source


def submit_job(
    session: Session,
    store: ObjectStore,
    *,
    client_id: str,
    spec: JobSpec,
    files: Sequence[IncomingFile],
    max_upload_bytes: int,
    max_files: int,
    enqueue_split: EnqueueSplit,
) -> JobRow:
    """Create a job from uploaded files. On any bad file nothing is kept and the error says why."""
    if not files:
        raise InvalidUpload("a job needs at least one file")
    if len(files) > max_files:
        raise InvalidUpload(f"a job takes at most {max_files} files, got {len(files)}")
    _check_deadline(spec)
    _check_gold_names(spec, [f.filename for f in files])
    repo = JobRepository(session)
    job = _new_job(repo, client_id, spec)
    written: list[str] = []
    try:
        seq = 0
        for incoming in files:
            if _store_source(
                repo,
                store,
                job,
                spec,
                seq,
                incoming.filename,
                incoming.stream,
                max_upload_bytes,
                written,
            ):
                seq += 1
        session.commit()
    except BaseException:
        session.rollback()
        for key in written:
            store.delete(key)
        raise
    _enqueue_or_leave_for_requeue(enqueue_split, job.id)
    return job


def submit_job_from_objects(
    session: Session,
    store: ObjectStore,
    *,
    client_id: str,
    spec: JobSpec,
    refs: Sequence[SourceRef],
    max_upload_bytes: int,
    max_files: int,
    enqueue_split: EnqueueSplit,
) -> JobRow:
    """Create a job from objects the client already put in the store under its own prefix."""
    if len(refs) > max_files:
        raise InvalidUpload(f"a job takes at most {max_files} files, got {len(refs)}")
    _check_deadline(spec)
    _check_gold_names(spec, [ref.filename or ref.key.rsplit("/", 1)[-1] for ref in refs])
    own_prefix = client_prefix(client_id)
    for ref in refs:
        # Another tenant's object looks exactly like a missing one.
        if not ref.key.startswith(own_prefix) or not _valid_key(ref.key):
            raise SourceNotFound(f"no object {ref.key!r} in your storage space")
        info = store.stat(ref.key)
        if info is None:
            raise SourceNotFound(f"no object {ref.key!r} in your storage space")
        if info.size > max_upload_bytes:
            raise UploadTooLarge(
                f"{ref.key!r} is larger than the limit of {max_upload_bytes} bytes"
            )
    repo = JobRepository(session)
    job = _new_job(repo, client_id, spec)
    written: list[str] = []
    try:
        seq = 0
        for ref in refs:
            name = ref.filename or ref.key.rsplit("/", 1)[-1]
            # Copied into the job's namespace: the job keeps its media whatever the upload does.
            with store.open_stream(ref.key) as stream:
                if _store_source(
                    repo, store, job, spec, seq, name, stream, max_upload_bytes, written
                ):
                    seq += 1
        session.commit()
    except BaseException:
        session.rollback()
        for key in written:
            store.delete(key)
        raise
    _enqueue_or_leave_for_requeue(enqueue_split, job.id)
    return job


def job_kind(job: JobRow) -> JobKind:
    return JobKind(job.kind)
