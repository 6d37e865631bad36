"""Handing out work and taking answers in (the distribution use cases).

Rules: each regular task collects exactly ``overlap`` answers from distinct workers; a worker
holds at most one live lease; leases run out (default 15 minutes) and their slots go back to the
pool, so no lock stays stuck; gold tasks are mixed in at the job's gold ratio (higher for
trainees) and look like any other task; a submit is idempotent by the client's answer id.

Every use case runs in the caller's unit of work and never commits.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.db.models import AssignmentRow, LeaseRow, TaskRow, WorkerRow
from engine.domain.answer_rules import AnswerError, normalize_answer
from engine.domain.job_stage import JobKind, JobStage, is_open_for_work
from engine.domain.lease_rules import (
    ANSWER_LEASE,
    Candidate,
    WorkerStatus,
    WorkerTier,
    as_utc,
    gold_ratio_for,
    is_live,
    lease_expiry,
    may_lease,
    serve_gold,
    submit_keeps_own_slot,
)
from engine.domain.work_states import (
    SlotPurpose,
    SlotState,
    StateTransitionError,
    lease_outcome,
    submit_refusal,
)
from engine.errors import KaziError
from engine.settings import Settings
from engine.training.gate import training_gate
from engine.unit_of_work import UnitOfWork
from engine.work import leasing
from engine.work.repository import TaskFacts
from schemas.jobs import JobSpec


class WorkError(KaziError):
    """A distribution call refused; subclasses without a code get their class name's."""

    status = 400
    code = "work_refused"


class LeaseNotFound(WorkError):
    status_code = 404


class SubmitRefused(WorkError):
    status_code = 409


class InvalidAnswer(WorkError):
    status_code = 422


class WorkerPaused(WorkError):
    status_code = 403


class NotAReviewer(WorkError):
    status_code = 403


class LeaseExpired(WorkError):
    """The lease ran out or ended: it is not extended (an answer may still be submitted late)."""

    status_code = 409


@dataclass(frozen=True)
class DistributionSettings:
    lease_seconds: float = 900.0
    trainee_gold_ratio: float = 0.2

    @classmethod
    def from_settings(cls, settings: Settings) -> DistributionSettings:
        return cls(float(settings.lease_seconds), settings.trainee_gold_ratio)


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


_SPECS: dict[str, JobSpec] = {}
_GOLD: dict[str, bool] = {}


def _has_gold(uow: UnitOfWork, job_id: str) -> bool:
    # Gold tasks are fixed when a job is split, before it opens for work.
    if job_id not in _GOLD:
        if len(_GOLD) > 10_000:
            _GOLD.clear()
        _GOLD[job_id] = uow.work.job_has_gold(job_id)
    return _GOLD[job_id]


def spec_of(uow: UnitOfWork, job_id: str) -> JobSpec:
    """The job's spec, parsed once per process (a job's spec never changes after intake)."""
    spec = _SPECS.get(job_id)
    if spec is None:
        raw = uow.work.job_spec(job_id)
        if raw is None:
            raise LeaseNotFound(f"no job {job_id}")
        if len(_SPECS) > 10_000:
            _SPECS.clear()
        spec = _SPECS[job_id] = JobSpec.model_validate(raw)
    return spec


def _lease(slot: AssignmentRow, lease: LeaseRow) -> Lease:
    return Lease(
        lease.id, slot.id, slot.task_id, slot.job_id, as_utc(lease.expires_at) or _now(),
        slot.replica,
    )  # fmt: skip


def _worker(uow: UnitOfWork, worker_id: str, locked: WorkerRow | None = None) -> WorkerRow:
    if locked is not None and locked.id == worker_id:
        return locked
    worker = uow.workers.get(worker_id, for_update=True)
    if worker is None:
        raise LeaseNotFound("unknown worker")
    return worker


# -- leasing ---------------------------------------------------------------------------------


def lease_next(
    uow: UnitOfWork,
    worker_id: str,
    settings: DistributionSettings,
    *,
    job_id: str | None = None,
    channel: str = "api",
    draw: Callable[[], float] = random.random,
    locked_worker: WorkerRow | None = None,
) -> Lease | None:
    """Lease the next task for a worker, or return the lease it already holds; None: no work.

    Concurrent callers never get the same slot. ``locked_worker``: the worker's row when the
    caller has locked it in this unit of work already.
    """
    now = _now()
    worker = _worker(uow, worker_id, locked_worker)
    if worker.status == WorkerStatus.PAUSED.value:
        raise WorkerPaused(
            "your account is paused from paid tasks; finish your training tasks or ask your "
            "coordinator"
        )
    training_gate(uow, worker_id)
    held = _held_lease(uow, worker_id, job_id, now)
    if held is not None:
        return held
    if job_id is not None:
        job = uow.jobs.get(job_id)
        if job is None:
            raise LeaseNotFound(f"no job {job_id}")
        if not is_open_for_work(job.stage):
            return None
    gold = _maybe_gold(uow, worker, job_id, settings, draw)
    if gold is not None:
        lease = leasing.take(
            uow, gold, worker_id, channel, now, settings.lease_seconds, own_slot=True
        )
        assert lease is not None  # an own slot is always taken
        return _lease(gold, lease)
    return _lease_regular(uow, worker_id, channel, now, settings, job_id)


def held_lease(uow: UnitOfWork, worker_id: str) -> Lease | None:
    """The live lease the worker holds, in any job; None when it holds none."""
    return _held_lease(uow, worker_id, None, _now())


def _held_lease(uow: UnitOfWork, worker_id: str, job_id: str | None, now: datetime) -> Lease | None:
    held = uow.work.live_lease_of(worker_id, now)
    if held is None:
        return None
    slot = uow.work.slot(held.assignment_id)
    if slot is None or (job_id is not None and slot.job_id != job_id):
        return None
    return _lease(slot, held)


def _lease_regular(
    uow: UnitOfWork,
    worker_id: str,
    channel: str,
    now: datetime,
    settings: DistributionSettings,
    job_id: str | None,
) -> Lease | None:
    if uow.work.claims_in_one_statement:
        lease_id = leasing.new_lease_id()
        expires = lease_expiry(now, settings.lease_seconds)
        claimed = uow.work.claim_next_free_slot(worker_id, lease_id, channel, now, expires, job_id)
        if claimed is None:
            return None
        return Lease(
            lease_id, claimed.slot_id, claimed.task_id, claimed.job_id, expires, claimed.replica
        )
    taken = leasing.find_and_take(
        uow, ANSWER_LEASE, worker_id, channel, now, settings.lease_seconds, job_id=job_id
    )
    return _lease(*taken) if taken is not None else None


def _maybe_gold(
    uow: UnitOfWork,
    worker: WorkerRow,
    job_id: str | None,
    settings: DistributionSettings,
    draw: Callable[[], float],
) -> AssignmentRow | None:
    if job_id is not None and not _has_gold(uow, job_id):
        return None
    task = uow.work.find_gold_task(worker.id, job_id)
    if task is None:
        return None
    ratio = gold_ratio_for(
        spec_of(uow, task.job_id).gold_ratio, WorkerTier(worker.tier), settings.trainee_gold_ratio
    )
    if not serve_gold(draw(), ratio):
        return None
    return _gold_slot(uow, task, worker.id)


def _gold_slot(uow: UnitOfWork, task: TaskRow, worker_id: str) -> AssignmentRow:
    """Gold tasks have no shared answer slots: each worker gets a slot of its own."""
    slot = uow.work.gold_slot(task.id, worker_id)
    if slot is None:
        slot = AssignmentRow(
            task_id=task.id, job_id=task.job_id, replica=None, purpose=SlotPurpose.ANSWER.value,
            state=SlotState.OPEN.value,
        )  # fmt: skip
        uow.work.add_slot(slot)
    return slot


def lease_for_answer(
    uow: UnitOfWork,
    worker_id: str,
    task_id: str,
    replica: int | None,
    settings: DistributionSettings,
    channel: str,
) -> Lease:
    """The lease an answer made outside the worker API (in Label Studio) is filed under: the one
    the worker holds on this task, else a free slot of the task (its replica first)."""
    now = _now()
    _worker(uow, worker_id)
    if uow.work.answer_of(task_id, worker_id) is not None:
        raise SubmitRefused("the worker has answered this task already")
    held = uow.work.held_lease_on(task_id, worker_id)
    if held is not None:
        slot = uow.work.slot(held.assignment_id)
        assert slot is not None
        return _lease(slot, held)
    task = uow.work.task(task_id)
    if task is None:
        raise LeaseNotFound(f"no task {task_id}")
    if task.is_gold:
        gold = _gold_slot(uow, task, worker_id)
        lease = leasing.take(
            uow, gold, worker_id, channel, now, settings.lease_seconds, own_slot=True
        )
        assert lease is not None
        return _lease(gold, lease)
    for slot in _answer_candidates(uow, task, worker_id, replica, now):
        lease = leasing.take(uow, slot, worker_id, channel, now, settings.lease_seconds)
        if lease is not None:
            return _lease(slot, lease)
    raise SubmitRefused("the task has all the answers it needs")


def _answer_candidates(
    uow: UnitOfWork, task: TaskRow, worker_id: str, replica: int | None, now: datetime
) -> list[AssignmentRow]:
    """The task's slot for this replica if the worker may lease it, then any free one."""
    candidates = []
    own = uow.work.slot_for(task.id, replica) if replica is not None else None
    job = uow.jobs.get(task.job_id)
    if own is not None and job is not None:
        # The worker has no answer and no live lease on the task (checked by the caller).
        seen = Candidate(leasing.slot_view(own), JobStage(job.stage))
        if may_lease(ANSWER_LEASE, seen, now):
            candidates.append(own)
    other = uow.work.find_free_slot(ANSWER_LEASE, worker_id, now, job_id=task.job_id,
                                    task_id=task.id)  # fmt: skip
    if other is not None and other not in candidates:
        candidates.append(other)
    return candidates


# -- answers ---------------------------------------------------------------------------------


def _facts(uow: UnitOfWork, task_id: str) -> TaskFacts:
    facts = uow.work.task_facts(task_id)
    if facts is None:
        raise LeaseNotFound(f"no task {task_id}")
    return facts


def _normalized(uow: UnitOfWork, facts: TaskFacts, answer: Any) -> dict[str, Any]:
    spec = spec_of(uow, facts.job_id)
    size = (facts.box_w, facts.box_h) if facts.box_w and facts.box_h else None
    try:
        return normalize_answer(JobKind(facts.job_kind), spec.labels, answer, size)
    except AnswerError as exc:
        raise InvalidAnswer(str(exc)) from exc


def check_answer(uow: UnitOfWork, task_id: str, answer: Any) -> dict[str, Any]:
    """The answer as the engine stores it, or InvalidAnswer."""
    return _normalized(uow, _facts(uow, task_id), answer)


def submit(
    uow: UnitOfWork,
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
    run out) still counts while the task needs an answer."""
    # Lock first, then look for a replay: a resend racing its original waits on the lock and
    # then sees the original's answer (a replay) instead of a spent lease.
    held = uow.work.lease_and_slot(lease_id)
    if client_answer_id:
        earlier = uow.work.answer_by_client_id(worker_id, client_answer_id)
        if earlier is not None:
            return SubmitResult(earlier.id, replayed=True, late=False, job_id=earlier.job_id)
    if held is None or held[0].worker_id != worker_id:
        raise LeaseNotFound(f"no lease {lease_id} for this worker")
    lease, slot = held
    if slot.purpose != SlotPurpose.ANSWER.value:
        raise SubmitRefused("this is a review lease; submit it to /v1/review/{lease}/submit")
    facts = _facts(uow, lease.task_id)
    payload = _normalized(uow, facts, answer)
    refusal = submit_refusal(lease_outcome(lease.outcome))
    if refusal is not None:
        raise SubmitRefused(refusal)
    now = _now()
    late = not is_live(as_utc(lease.expires_at), now)
    if not submit_keeps_own_slot(leasing.slot_view(slot), lease.id):
        slot = _slot_for_late_submit(uow, lease, slot, now)
    answer_id = uow.work.add_answer(
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
    leasing.fill(slot, lease, now, answer_id)
    return SubmitResult(answer_id, replayed=False, late=late, job_id=slot.job_id)


def _slot_for_late_submit(
    uow: UnitOfWork, lease: LeaseRow, slot: AssignmentRow, now: datetime
) -> AssignmentRow:
    """The lease ran out and its slot went to someone else: file the answer on another free
    slot of the task, or refuse when the task has all its answers."""
    if slot.replica is None:  # a gold slot is the worker's own
        leasing.take_for_late_submit(uow, slot, lease, now, own_slot=True)
        return slot
    other = uow.work.find_free_slot(
        ANSWER_LEASE, lease.worker_id, now, job_id=slot.job_id, task_id=slot.task_id
    )
    if other is None:
        spec = spec_of(uow, slot.job_id)
        raise SubmitRefused(
            f"your lease ran out at {as_utc(lease.expires_at):%Y-%m-%d %H:%M:%S} UTC and "
            f"the task has all the answers it needs ({spec.overlap}); nothing was recorded"
        )
    if not leasing.take_for_late_submit(uow, other, lease, now, own_slot=False):
        raise SubmitRefused("the task was taken while you submitted; try the next one")
    return other


def release(uow: UnitOfWork, worker_id: str, lease_id: str) -> None:
    """Give a leased task back to the pool at once. Releasing twice is harmless."""
    lease = uow.work.lease(lease_id, for_update=True)
    if lease is None or lease.worker_id != worker_id:
        raise LeaseNotFound(f"no lease {lease_id} for this worker")
    slot = uow.work.slot(lease.assignment_id, for_update=True)
    try:
        leasing.give_back(lease, slot, _now())
    except StateTransitionError as exc:
        raise SubmitRefused(str(exc)) from exc


def extend_lease(
    uow: UnitOfWork,
    worker_id: str,
    lease_id: str,
    settings: DistributionSettings,
    now: datetime | None = None,
) -> Lease:
    """The worker is still at the task (the app's heartbeat): its live lease runs until
    ``lease_seconds`` from now, never longer. A lease that ran out, was released or submitted
    is not revived: LeaseExpired."""
    held = uow.work.lease_and_slot(lease_id)  # both rows locked
    if held is None or held[0].worker_id != worker_id:
        raise LeaseNotFound(f"no lease {lease_id} for this worker")
    lease, slot = held
    if not leasing.extend(lease, slot, now or _now(), settings.lease_seconds):
        raise LeaseExpired("this lease has ended; it can no longer be extended")
    return _lease(slot, lease)


def expire_leases(uow: UnitOfWork) -> int:
    """Return every run-out slot to the pool (the beat's sweep); returns how many."""
    return uow.work.expire_leases(_now())


# -- what the worker sees --------------------------------------------------------------------


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


def leased_task(uow: UnitOfWork, lease: Lease) -> LeasedTask:
    """What a worker needs to do the task: never the gold answer, never others' answers."""
    facts = _facts(uow, lease.task_id)
    draft = (
        uow.drafts.latest_for_task(facts.task_id)
        if facts.job_kind == JobKind.TRANSCRIPTION.value
        else None
    )
    return LeasedTask(
        lease=lease,
        kind=facts.job_kind,
        media_key=facts.object_key,
        lowres_media_key=facts.lowres_object_key,
        labels=spec_of(uow, facts.job_id).labels,
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
