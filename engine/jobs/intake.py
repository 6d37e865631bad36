"""Intake use cases: accept a client's job, store its media once, queue it for splitting
(the job, its sources and its first pipeline step commit together)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

from engine.billing.media_measure import measure_sources
from engine.billing.service import reserve_for_job
from engine.db.models import JobRow, SourceMediaRow
from engine.domain.job_stage import JobStage
from engine.domain.media_sniffing import SNIFF_BYTES, UnsupportedMedia, identify_upload
from engine.domain.upload_filename import BadFilename, check_upload_filename
from engine.jobs.errors import InvalidUpload, SourceNotFound, UnsupportedUpload, UploadTooLarge
from engine.net.outbound import OutboundUrlRefused
from engine.net.outbound_client import OutboundClient
from engine.pipeline.outbox import route_stage_entered
from engine.settings import get_settings
from engine.storage.object_keys import InvalidObjectKey, client_prefix, object_key, validate_key
from engine.storage.object_store import ObjectStore, ObjectTooLarge
from engine.unit_of_work import UnitOfWork
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


def _check_callback(spec: JobSpec, outbound: OutboundClient | None) -> None:
    """Refuse a callback the engine would not call (checked again when it is sent)."""
    if spec.callback_url is None:
        return
    client = outbound or OutboundClient.from_settings(get_settings())
    try:
        client.check(str(spec.callback_url))
    except OutboundUrlRefused as exc:
        raise OutboundUrlRefused(f"callback_url refused: {exc.message}") from exc


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


def _new_job(uow: UnitOfWork, job_id: str, client_id: str, spec: JobSpec) -> JobRow:
    job = JobRow(
        id=job_id,
        client_id=client_id,
        kind=spec.kind.value,
        spec=spec.model_dump(mode="json"),
        stage=JobStage.RECEIVED.value,
    )
    uow.jobs.add(job)
    uow.jobs.add_stage_event(job.id, JobStage.RECEIVED.value)
    route_stage_entered(uow, job, JobStage.RECEIVED)
    return job


@dataclass
class _Upload:
    """What one submission has written so far (deleted again if the submission fails)."""

    client_id: str
    job_id: str
    spec: JobSpec
    max_bytes: int
    written: list[str] = field(default_factory=list)
    sources: list[SourceMediaRow] = field(default_factory=list)

    def delete_written(self, store: ObjectStore) -> None:
        for key in self.written:
            store.delete(key)


def _store_source(
    store: ObjectStore, upload: _Upload, raw_name: str | None, stream: BinaryIO
) -> None:
    """Stream one file into the store; identical bytes are kept once per job."""
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
    spec = upload.spec
    _check_kind(spec, filename, sniffed.media_type)

    source_id = str(uuid.uuid4())
    # The key uses an id, never the client's filename.
    key = object_key(upload.client_id, upload.job_id, "sources", f"{source_id}{sniffed.extension}")
    try:
        stored = store.put_stream(
            key,
            io.BufferedReader(_PrefixedStream(head, stream), buffer_size=1024 * 1024),
            content_type=sniffed.content_type,
            max_bytes=upload.max_bytes,
        )
    except ObjectTooLarge as exc:
        raise UploadTooLarge(
            f"{filename!r} is larger than the limit of {upload.max_bytes} bytes"
        ) from exc
    upload.written.append(key)
    if any(s.sha256 == stored.sha256 for s in upload.sources):
        store.delete(key)
        upload.written.remove(key)
        return
    upload.sources.append(
        SourceMediaRow(
            id=source_id,
            job_id=upload.job_id,
            seq=len(upload.sources),
            filename=filename,
            object_key=key,
            sha256=stored.sha256,
            size_bytes=stored.size,
            media_type=sniffed.media_type,
            content_type=sniffed.content_type,
        )
    )


def _record_job(uow: UnitOfWork, store: ObjectStore, upload: _Upload) -> str:
    """One short transaction: the job, its sources, its first pipeline step and, for a job
    with a pay rate, the reservation of its quote (a 402 when the client is short)."""
    try:
        # A paid job's media is measured for its quote before the transaction opens.
        media = measure_sources(store, upload.sources) if upload.spec.pay_rate else ()
        with uow:
            _new_job(uow, upload.job_id, upload.client_id, upload.spec)
            for source in upload.sources:
                uow.jobs.add_source(source)
            reserve_for_job(
                uow, client_id=upload.client_id, job_id=upload.job_id, spec=upload.spec,
                media=media, settings=get_settings(),
            )  # fmt: skip
            uow.commit()
    except BaseException:
        upload.delete_written(store)
        raise
    return upload.job_id


def submit_job(
    uow: UnitOfWork,
    store: ObjectStore,
    *,
    client_id: str,
    spec: JobSpec,
    files: Sequence[IncomingFile],
    max_upload_bytes: int,
    max_files: int,
    outbound: OutboundClient | None = None,
) -> str:
    """Create a job from uploaded files; returns its id. The files are streamed to the store
    before any transaction opens; on any bad file nothing is kept and the error says why.
    ``outbound`` checks the callback URL (default: built from the process settings)."""
    if not files:
        raise InvalidUpload("a job needs at least one file")
    if len(files) > max_files:
        raise InvalidUpload(f"a job takes at most {max_files} files, got {len(files)}")
    _check_deadline(spec)
    _check_callback(spec, outbound)
    _check_gold_names(spec, [f.filename for f in files])
    upload = _Upload(client_id, str(uuid.uuid4()), spec, max_upload_bytes)
    try:
        for incoming in files:
            _store_source(store, upload, incoming.filename, incoming.stream)
    except BaseException:
        upload.delete_written(store)
        raise
    return _record_job(uow, store, upload)


def submit_job_from_objects(
    uow: UnitOfWork,
    store: ObjectStore,
    *,
    client_id: str,
    spec: JobSpec,
    refs: Sequence[SourceRef],
    max_upload_bytes: int,
    max_files: int,
    outbound: OutboundClient | None = None,
) -> str:
    """Create a job from objects the client already put in the store under its own prefix."""
    if len(refs) > max_files:
        raise InvalidUpload(f"a job takes at most {max_files} files, got {len(refs)}")
    _check_deadline(spec)
    _check_callback(spec, outbound)
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
    upload = _Upload(client_id, str(uuid.uuid4()), spec, max_upload_bytes)
    try:
        for ref in refs:
            name = ref.filename or ref.key.rsplit("/", 1)[-1]
            # Copied into the job's namespace: the job keeps its media whatever the upload does.
            with store.open_stream(ref.key) as stream:
                _store_source(store, upload, name, stream)
    except BaseException:
        upload.delete_written(store)
        raise
    return _record_job(uow, store, upload)
