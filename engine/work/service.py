"""Handing out work and taking answers in (the distribution use cases).

Rules: each regular task collects exactly ``overlap`` answers from distinct workers; a worker
holds at most one live lease; leases run out (default 15 minutes) and their slots go back to the
pool, so no lock stays stuck; gold tasks are mixed in at the job's gold ratio (higher for
trainees) and look like any other task; a submit is idempotent by the client's answer id.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.db.models import AssignmentRow, LeaseRow, TaskRow, WorkerRow
from engine.domain.answer_rules import AnswerError, normalize_answer
from engine.domain.job_stage import JobKind, is_open_for_work
from engine.domain.lease_rules import (
    SlotState,
    SlotView,
    WorkerTier,
    as_utc,
    gold_ratio_for,
    is_live,
    lease_expiry,
    serve_gold,
    slot_is_free,
    submit_keeps_own_slot,
)
from engine.drafting.repository import DraftRepository
from engine.jobs.repository import JobRepository
from engine.work.repository import TaskFacts, WorkRepository
from engine.workforce.repository import WorkerRepository
from schemas.jobs import JobSpec


class WorkError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LeaseNotFound(WorkError):
    status_code = 404


class SubmitRefused(WorkError):
    status_code = 409


class InvalidAnswer(WorkError):
    status_code = 422


class WorkerPaused(WorkError):
    status_code = 403


@dataclass(frozen=True)
class DistributionSettings:
    lease_seconds: float = 900.0
    trainee_gold_ratio: float = 0.2


@dataclass(frozen=True)
class Lease:
    lease_id: str
    assignment_id: int
    task_id: str
    job_id: str
    expires_at: datetime
    replica: int | None


@dataclass(frozen=True)
class SubmitResult:
    answer_id: int
    replayed: bool
    late: bool
    job_id: str = ""


def _now() -> datetime:
    return datetime.now(UTC)


def _view(slot: AssignmentRow) -> SlotView:
    return SlotView(SlotState(slot.state), slot.lease_id, as_utc(slot.expires_at))


_SPECS: dict[str, JobSpec] = {}
_GOLD: dict[str, bool] = {}


def _has_gold(repo: WorkRepository, job_id: str) -> bool:
    # Gold tasks are fixed when a job is split, before it opens for work.
    if job_id not in _GOLD:
        if len(_GOLD) > 10_000:
            _GOLD.clear()
        _GOLD[job_id] = repo.job_has_gold(job_id)
    return _GOLD[job_id]


def _spec_of(repo: WorkRepository, job_id: str) -> JobSpec:
    spec = _SPECS.get(job_id)
    if spec is None:
        raw = repo.job_spec(job_id)
        if raw is None:
            raise LeaseNotFound(f"no job {job_id}")
        # A job's spec never changes after intake; parse it once per process.
        if len(_SPECS) > 10_000:
            _SPECS.clear()
        spec = _SPECS[job_id] = JobSpec.model_validate(raw)
    return spec


def _lease(slot: AssignmentRow, lease: LeaseRow) -> Lease:
    return Lease(
        lease.id, slot.id, slot.task_id, slot.job_id, as_utc(lease.expires_at) or _now(),
        slot.replica,
    )  # fmt: skip


def _worker(session: Session, worker_id: str, locked: WorkerRow | None = None) -> WorkerRow:
    if locked is not None and locked.id == worker_id:
        return locked
    worker = WorkerRepository(session).get(worker_id, for_update=True)
    if worker is None:
        raise LeaseNotFound("unknown worker")
    return worker


def lease_next(
    session: Session,
    worker_id: str,
    settings: DistributionSettings,
    *,
    job_id: str | None = None,
    channel: str = "api",
    draw: Callable[[], float] = random.random,
    locked_worker: WorkerRow | None = None,
) -> Lease | None:
    """Lease the next task for a worker, or return the lease it already holds; None: no work.

    The caller commits. Concurrent callers never get the same slot. ``locked_worker``: the
    worker's row when the caller has locked it in this transaction already.
    """
    now = _now()
    worker = _worker(session, worker_id, locked_worker)
    if worker.status == "paused":
        raise WorkerPaused(
            "your account is paused from paid tasks; finish your training tasks or ask your "
            "coordinator"
        )
    repo = WorkRepository(session)
    held = repo.live_lease_of(worker_id, now)
    if held is not None:
        slot = repo.slot(held.assignment_id)
        if slot is not None and (job_id is None or slot.job_id == job_id):
            return _lease(slot, held)
    if job_id is not None:
        job = JobRepository(session).get(job_id)
        if job is None:
            raise LeaseNotFound(f"no job {job_id}")
        if not is_open_for_work(job.stage):
            return None

    gold = _maybe_gold(repo, worker, job_id, settings, draw)
    if gold is not None:
        return _start_lease(repo, worker_id, gold, channel, now, settings, is_gold=True)
    if session.get_bind().dialect.name == "postgresql":
        lease_id = str(uuid.uuid4())
        expires = lease_expiry(now, settings.lease_seconds)
        claimed = repo.claim_next_free_slot(worker_id, lease_id, channel, now, expires, job_id)
        if claimed is None:
            return None
        slot_id, task_id, slot_job, replica = claimed
        return Lease(lease_id, slot_id, task_id, slot_job, expires, replica)
    for _ in range(5):  # a lost race on SQLite (no SKIP LOCKED) just tries the next slot
        slot = repo.find_free_slot(worker_id, now, job_id)
        if slot is None:
            return None
        lease = _start_lease(repo, worker_id, slot, channel, now, settings, is_gold=False)
        if lease is not None:
            return lease
    return None


def _maybe_gold(
    repo: WorkRepository,
    worker: WorkerRow,
    job_id: str | None,
    settings: DistributionSettings,
    draw: Callable[[], float],
) -> AssignmentRow | None:
    if job_id is not None and not _has_gold(repo, job_id):
        return None
    task = repo.find_gold_task(worker.id, job_id)
    if task is None:
        return None
    ratio = gold_ratio_for(
        _spec_of(repo, task.job_id).gold_ratio, WorkerTier(worker.tier), settings.trainee_gold_ratio
    )
    if not serve_gold(draw(), ratio):
        return None
    slot = repo.gold_slot(task.id, worker.id)
    if slot is None:
        slot = AssignmentRow(task_id=task.id, job_id=task.job_id, replica=None, state="open")
        repo.add_slot(slot)
    return slot


def _start_lease(
    repo: WorkRepository,
    worker_id: str,
    slot: AssignmentRow,
    channel: str,
    now: datetime,
    settings: DistributionSettings,
    *,
    is_gold: bool,
) -> Lease | None:
    lease_id = str(uuid.uuid4())
    expires = lease_expiry(now, settings.lease_seconds)
    if is_gold:
        repo.claim_gold(slot.id, worker_id, lease_id, expires)
    elif not repo.claim(slot.id, worker_id, lease_id, expires, now):
        return None
    if slot.lease_id and slot.lease_id != lease_id:
        # The slot's previous lease ran out; close it so its holder's late submit is judged.
        old = repo.lease(slot.lease_id)
        if old is not None and old.outcome is None:
            old.outcome, old.ended_at = "expired", now
    lease = LeaseRow(
        id=lease_id,
        assignment_id=slot.id,
        task_id=slot.task_id,
        worker_id=worker_id,
        channel=channel,
        created_at=now,
        expires_at=expires,
    )
    repo.add_lease(lease)
    session = repo.session
    session.refresh(slot)
    return _lease(slot, lease)


def _facts(repo: WorkRepository, task_id: str) -> TaskFacts:
    facts = repo.task_facts(task_id)
    if facts is None:
        raise LeaseNotFound(f"no task {task_id}")
    return facts


def _normalized(repo: WorkRepository, facts: TaskFacts, answer: Any) -> dict[str, Any]:
    spec = _spec_of(repo, facts.job_id)
    size = (facts.box_w, facts.box_h) if facts.box_w and facts.box_h else None
    try:
        return normalize_answer(JobKind(facts.job_kind), spec.labels, answer, size)
    except AnswerError as exc:
        raise InvalidAnswer(str(exc)) from exc


def check_answer(session: Session, task_id: str, answer: Any) -> dict[str, Any]:
    repo = WorkRepository(session)
    return _normalized(repo, _facts(repo, task_id), answer)


def submit(
    session: Session,
    worker_id: str,
    lease_id: str,
    answer: Any,
    *,
    client_answer_id: str | None,
    time_spent_seconds: float | None,
    source: str = "api",
    ls_annotation_id: int | None = None,
) -> SubmitResult:
    """Record an answer for a lease. Idempotent by ``client_answer_id``; a late submit (lease
    run out) still counts while the task needs an answer. The caller commits."""
    repo = WorkRepository(session)
    # Lock first, then look for a replay: a resend racing its original waits on the lock and
    # then sees the original's answer (a replay) instead of a spent lease.
    held = repo.lease_and_slot(lease_id)
    if client_answer_id:
        earlier = repo.answer_by_client_id(worker_id, client_answer_id)
        if earlier is not None:
            return SubmitResult(earlier.id, replayed=True, late=False, job_id=earlier.job_id)
    if held is None or held[0].worker_id != worker_id:
        raise LeaseNotFound(f"no lease {lease_id} for this worker")
    lease, slot = held
    facts = _facts(repo, lease.task_id)
    payload = _normalized(repo, facts, answer)
    if lease.outcome == "submitted":
        raise SubmitRefused("this lease was submitted already; send a new client_answer_id only "
                            "for new work")  # fmt: skip
    if lease.outcome == "released":
        raise SubmitRefused("this lease was released; lease the task again to answer it")
    now = _now()
    late = not is_live(as_utc(lease.expires_at), now)
    if not submit_keeps_own_slot(_view(slot), lease.id):
        slot = _slot_for_late_submit(repo, worker_id, lease, slot, now)
    answer_id = repo.add_answer(
        {
            "task_id": lease.task_id, "job_id": slot.job_id, "worker_id": worker_id,
            "assignment_id": slot.id, "lease_id": lease.id, "replica": slot.replica,
            "is_gold": facts.is_gold, "source": source, "payload": payload,
            "time_spent_seconds": time_spent_seconds, "client_answer_id": client_answer_id,
            "ls_annotation_id": ls_annotation_id, "created_at": now,
        }
    )  # fmt: skip
    if answer_id is None:
        raise SubmitRefused("you have answered this task already")
    slot.state, slot.answer_id, slot.expires_at = "answered", answer_id, None
    lease.outcome, lease.ended_at = "submitted", now
    return SubmitResult(answer_id, replayed=False, late=late, job_id=slot.job_id)


def _slot_for_late_submit(
    repo: WorkRepository, worker_id: str, lease: LeaseRow, slot: AssignmentRow, now: datetime
) -> AssignmentRow:
    """The lease ran out and its slot went to someone else: file the answer on another free
    slot of the task, or refuse when the task has all its answers."""
    if slot.replica is None:  # a gold slot is the worker's own
        repo.claim_gold(slot.id, worker_id, lease.id, now)
    else:
        other = repo.find_free_slot(worker_id, now, slot.job_id, task_id=slot.task_id)
        if other is None:
            spec = _spec_of(repo, slot.job_id)
            raise SubmitRefused(
                f"your lease ran out at {as_utc(lease.expires_at):%Y-%m-%d %H:%M:%S} UTC and "
                f"the task has all the answers it needs ({spec.overlap}); nothing was recorded"
            )
        if not repo.claim(other.id, worker_id, lease.id, now, now):
            raise SubmitRefused("the task was taken while you submitted; try the next one")
        slot = other
    repo.session.refresh(slot)
    return slot


def release(session: Session, worker_id: str, lease_id: str) -> None:
    """Give a leased task back to the pool at once. Releasing twice is harmless."""
    repo = WorkRepository(session)
    lease = repo.lease(lease_id, for_update=True)
    if lease is None or lease.worker_id != worker_id:
        raise LeaseNotFound(f"no lease {lease_id} for this worker")
    if lease.outcome == "submitted":
        raise SubmitRefused("this lease was submitted; there is nothing to release")
    if lease.outcome is None:
        lease.outcome, lease.ended_at = "released", _now()
    slot = repo.slot(lease.assignment_id, for_update=True)
    if slot is not None and slot.state == "leased" and slot.lease_id == lease.id:
        repo.open_slot(slot)


def expire_leases(session: Session) -> int:
    return WorkRepository(session).expire_leases(_now())


@dataclass(frozen=True)
class LeasedTask:
    lease: Lease
    kind: str
    media_key: str
    lowres_media_key: str | None
    labels: list[str]
    draft: dict[str, Any] | None
    start: float | None
    end: float | None
    width: int | None
    height: int | None


def leased_task(session: Session, lease: Lease) -> LeasedTask:
    """What a worker needs to do the task: never the gold answer, never others' answers."""
    repo = WorkRepository(session)
    facts = _facts(repo, lease.task_id)
    draft = (
        DraftRepository(session).latest_for_task(facts.task_id)
        if facts.job_kind == JobKind.TRANSCRIPTION.value
        else None
    )
    return LeasedTask(
        lease=lease,
        kind=facts.job_kind,
        media_key=facts.object_key,
        lowres_media_key=facts.lowres_object_key,
        labels=_spec_of(repo, facts.job_id).labels,
        draft=(
            {"text": draft.text, "words": draft.words, "model_version": draft.model_version}
            if draft
            else None
        ),
        start=facts.start_seconds,
        end=facts.end_seconds,
        width=facts.box_w,
        height=facts.box_h,
    )


def lease_for_answer(
    session: Session,
    worker_id: str,
    task_id: str,
    replica: int | None,
    settings: DistributionSettings,
    channel: str,
) -> Lease:
    """The lease an answer made outside the worker API (in Label Studio) is filed under: the one
    the worker holds on this task, else a free slot of the task (its replica first)."""
    repo = WorkRepository(session)
    now = _now()
    _worker(session, worker_id)
    if repo.answer_of(task_id, worker_id) is not None:
        raise SubmitRefused("the worker has answered this task already")
    held = repo.held_lease_on(task_id, worker_id)
    if held is not None:
        slot = repo.slot(held.assignment_id)
        assert slot is not None
        return _lease(slot, held)
    task = session.get(TaskRow, task_id)
    if task is None:
        raise LeaseNotFound(f"no task {task_id}")
    if task.is_gold:
        slot = repo.gold_slot(task_id, worker_id)
        if slot is None:
            slot = AssignmentRow(task_id=task_id, job_id=task.job_id, replica=None, state="open")
            repo.add_slot(slot)
        lease = _start_lease(repo, worker_id, slot, channel, now, settings, is_gold=True)
        assert lease is not None
        return lease
    candidates = []
    if replica is not None:
        own = repo.slot_for(task_id, replica)
        if own is not None and slot_is_free(_view(own), now):
            candidates.append(own)
    other = repo.find_free_slot(worker_id, now, task.job_id, task_id=task_id)
    if other is not None:
        candidates.append(other)
    for slot in candidates:
        lease = _start_lease(repo, worker_id, slot, channel, now, settings, is_gold=False)
        if lease is not None:
            return lease
    raise SubmitRefused("the task has all the answers it needs")
