"""In-memory repositories for the work and quality use cases.

One ``FakeStore`` holds the rows; each fake repository reads and writes it as its SQL does.
Which slot is free is decided by the domain's rules in their Python form (``may_lease``), the
same definitions the real repositories compile to SQL.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.db.models import (
    AnswerRow,
    AnswerScoreRow,
    AssignmentRow,
    DraftRow,
    JobRow,
    LeaseRow,
    ReviewRow,
    TaskResultRow,
    TaskRow,
    WorkerRow,
)
from engine.domain.job_stage import JobStage
from engine.domain.lease_rules import (
    LEASE_RAN_OUT,
    LIVE_LEASED_SLOT,
    NOW,
    SLOT_IS_FREE,
    Candidate,
    LeaseRule,
    may_lease,
    slot_facts,
)
from engine.domain.predicate import holds
from engine.domain.work_states import LeaseOutcome, SlotPurpose, SlotState
from engine.work.leasing import slot_view
from engine.work.repository import ClaimedSlot, TaskFacts
from tests.unit.fakes import FakeOutbox, FakeUnitOfWork

EPOCH = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class FakeStore:
    jobs: dict[str, JobRow] = field(default_factory=dict)
    tasks: dict[str, TaskRow] = field(default_factory=dict)
    slots: dict[int, AssignmentRow] = field(default_factory=dict)
    leases: dict[str, LeaseRow] = field(default_factory=dict)
    answers: dict[int, AnswerRow] = field(default_factory=dict)
    workers: dict[str, WorkerRow] = field(default_factory=dict)
    drafts: list[DraftRow] = field(default_factory=list)
    results: dict[str, TaskResultRow] = field(default_factory=dict)
    scores: dict[int, AnswerScoreRow] = field(default_factory=dict)
    reviews: dict[int, ReviewRow] = field(default_factory=dict)
    stage_events: list[tuple[str, str, str | None]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- building a scene ------------------------------------------------------------------

    def add_job(
        self,
        kind: str = "image_classification",
        stage: JobStage = JobStage.LABELING,
        created_at: datetime = EPOCH,
        **spec: Any,
    ) -> JobRow:
        spec = {"kind": kind, "labels": ["cat", "dog"], "overlap": 2, "gold_ratio": 0.0, **spec}
        if kind == "transcription":
            spec.pop("labels")
        job = JobRow(
            id=str(uuid.uuid4()),
            client_id="client",
            kind=kind,
            spec=spec,
            stage=stage.value,
            created_at=created_at,
        )
        self.jobs[job.id] = job
        return job

    def add_task(
        self, job: JobRow, *, gold_answer: dict[str, Any] | None = None, slots: int | None = None
    ) -> TaskRow:
        """A task with its answer slots (``overlap`` of them; gold tasks get none)."""
        task = TaskRow(
            id=str(uuid.uuid4()),
            job_id=job.id,
            source_id="source",
            seq=len(self.tasks),
            kind="image",
            object_key=f"tasks/{len(self.tasks)}.png",
            box_w=40,
            box_h=30,
            status="ready",
            is_gold=gold_answer is not None,
            gold_answer=gold_answer,
        )
        self.tasks[task.id] = task
        if gold_answer is None:
            for replica in range(job.spec["overlap"] if slots is None else slots):
                self.add_slot(AssignmentRow(task_id=task.id, job_id=job.id, replica=replica))
        return task

    def add_worker(self, tier: str = "qualified", status: str = "active") -> WorkerRow:
        worker = WorkerRow(
            id=str(uuid.uuid4()),
            handle=f"w{len(self.workers)}",
            tier=tier,
            status=status,
            key_prefix=uuid.uuid4().hex[:12],
            key_hash="",
        )
        self.workers[worker.id] = worker
        return worker

    def add_slot(self, slot: AssignmentRow) -> AssignmentRow:
        slot.id = next(self.ids)
        slot.state = slot.state or SlotState.OPEN.value
        slot.purpose = slot.purpose or SlotPurpose.ANSWER.value
        self.slots[slot.id] = slot
        return slot

    # -- reading it ------------------------------------------------------------------------

    def slots_of(self, task_id: str, purpose: SlotPurpose = SlotPurpose.ANSWER) -> list[Any]:
        return [s for s in self.slots.values() if s.task_id == task_id and s.purpose == purpose]

    def answers_of(self, job_id: str) -> list[AnswerRow]:
        return [a for a in self.answers.values() if a.job_id == job_id]


class FakeWorkRepository:
    """What WorkRepository does, on the store. ``claims_in_one_statement`` picks the service's
    PostgreSQL branch (one claim call) or its find-then-claim branch."""

    def __init__(self, store: FakeStore, *, claims_in_one_statement: bool = False) -> None:
        self.store = store
        self.claims_in_one_statement = claims_in_one_statement

    def task(self, task_id: str) -> TaskRow | None:
        return self.store.tasks.get(task_id)

    def slot(self, assignment_id: int, *, for_update: bool = False) -> AssignmentRow | None:
        return self.store.slots.get(assignment_id)

    def slot_for(self, task_id: str, replica: int) -> AssignmentRow | None:
        return next(
            (s for s in self.store.slots.values() if s.task_id == task_id and s.replica == replica),
            None,
        )

    def refresh(self, slot: AssignmentRow) -> None:
        pass

    def task_facts(self, task_id: str) -> TaskFacts | None:
        task = self.store.tasks.get(task_id)
        if task is None:
            return None
        job = self.store.jobs[task.job_id]
        return TaskFacts(
            task.id,
            task.job_id,
            job.kind,
            task.object_key,
            task.lowres_object_key,
            task.start_seconds,
            task.end_seconds,
            task.box_w,
            task.box_h,
            task.is_gold,
        )

    def job_spec(self, job_id: str) -> dict[str, Any] | None:
        job = self.store.jobs.get(job_id)
        return job.spec if job else None

    def live_lease_of(self, worker_id: str, now: datetime) -> LeaseRow | None:
        live = [
            lease
            for lease in self.store.leases.values()
            if lease.worker_id == worker_id and lease.outcome is None and lease.expires_at > now
        ]
        return max(live, key=lambda lease: lease.created_at, default=None)

    def held_lease_on(self, task_id: str, worker_id: str) -> LeaseRow | None:
        for lease in self.store.leases.values():
            slot = next((s for s in self.store.slots.values() if s.lease_id == lease.id), None)
            if (
                lease.task_id == task_id
                and lease.worker_id == worker_id
                and lease.outcome is None
                and slot is not None
                and slot.state == SlotState.LEASED
            ):
                return lease
        return None

    def _candidate(self, slot: AssignmentRow, worker_id: str, now: datetime) -> Candidate:
        job = self.store.jobs[slot.job_id]
        holds_task = any(
            m.task_id == slot.task_id
            and m.worker_id == worker_id
            and holds(LIVE_LEASED_SLOT, slot_facts(slot_view(m)), {NOW.name: now})
            for m in self.store.slots.values()
        )
        answered = any(
            a.task_id == slot.task_id and a.worker_id == worker_id
            for a in self.store.answers.values()
        )
        return Candidate(slot_view(slot), JobStage(job.stage), answered, holds_task)

    def find_free_slot(
        self,
        rule: LeaseRule,
        worker_id: str,
        now: datetime,
        *,
        job_id: str | None = None,
        task_id: str | None = None,
    ) -> AssignmentRow | None:
        def order(slot: AssignmentRow) -> tuple[Any, ...]:
            age = self.store.jobs[slot.job_id].created_at if rule.oldest_job_first else EPOCH
            return (age, slot.id)

        for slot in sorted(self.store.slots.values(), key=order):
            if job_id is not None and slot.job_id != job_id:
                continue
            if task_id is not None and slot.task_id != task_id:
                continue
            if may_lease(rule, self._candidate(slot, worker_id, now), now):
                return slot
        return None

    def claim_next_free_slot(
        self,
        worker_id: str,
        lease_id: str,
        channel: str,
        now: datetime,
        expires_at: datetime,
        job_id: str | None,
    ) -> ClaimedSlot | None:
        from engine.domain.lease_rules import ANSWER_LEASE

        slot = self.find_free_slot(ANSWER_LEASE, worker_id, now, job_id=job_id)
        if slot is None:
            return None
        # Like the SQL: the slot's ran-out lease is left for the expiry sweep to close.
        assert self.claim(slot.id, worker_id, lease_id, expires_at, now)
        self.add_lease(
            LeaseRow(
                id=lease_id,
                assignment_id=slot.id,
                task_id=slot.task_id,
                worker_id=worker_id,
                channel=channel,
                created_at=now,
                expires_at=expires_at,
            )
        )
        return ClaimedSlot(slot.id, slot.task_id, slot.job_id, slot.replica)

    def job_has_gold(self, job_id: str) -> bool:
        return any(t.is_gold for t in self.store.tasks.values() if t.job_id == job_id)

    def find_gold_task(self, worker_id: str, job_id: str | None) -> TaskRow | None:
        for task in self.store.tasks.values():
            job = self.store.jobs[task.job_id]
            if (
                task.is_gold
                and job.stage == JobStage.LABELING
                and task.status != "failed"
                and (job_id is None or task.job_id == job_id)
                and not any(
                    a.task_id == task.id and a.worker_id == worker_id
                    for a in self.store.answers.values()
                )
            ):
                return task
        return None

    def gold_slot(self, task_id: str, worker_id: str) -> AssignmentRow | None:
        return next(
            (
                s
                for s in self.store.slots.values()
                if s.task_id == task_id and s.worker_id == worker_id and s.replica is None
            ),
            None,
        )

    def add_slot(self, slot: AssignmentRow) -> None:
        self.store.add_slot(slot)

    def claim(
        self, slot_id: int, worker_id: str, lease_id: str, expires_at: datetime, now: datetime
    ) -> bool:
        slot = self.store.slots[slot_id]
        if not holds(SLOT_IS_FREE, slot_facts(slot_view(slot)), {NOW.name: now}):
            return False
        self.claim_own(slot_id, worker_id, lease_id, expires_at)
        return True

    def claim_own(self, slot_id: int, worker_id: str, lease_id: str, expires_at: datetime) -> None:
        slot = self.store.slots[slot_id]
        slot.state, slot.worker_id, slot.lease_id, slot.expires_at = (
            SlotState.LEASED.value,
            worker_id,
            lease_id,
            expires_at,
        )

    def add_lease(self, lease: LeaseRow) -> None:
        assert lease.id not in self.store.leases
        self.store.leases[lease.id] = lease

    def lease_and_slot(self, lease_id: str) -> tuple[LeaseRow, AssignmentRow] | None:
        lease = self.store.leases.get(lease_id)
        return (lease, self.store.slots[lease.assignment_id]) if lease is not None else None

    def lease(self, lease_id: str, *, for_update: bool = False) -> LeaseRow | None:
        return self.store.leases.get(lease_id)

    def expire_leases(self, now: datetime) -> int:
        for lease in self.store.leases.values():
            if lease.outcome is None and lease.expires_at <= now:
                lease.outcome, lease.ended_at = LeaseOutcome.EXPIRED.value, now
        expired = 0
        for slot in self.store.slots.values():
            if holds(LEASE_RAN_OUT, slot_facts(slot_view(slot)), {NOW.name: now}):
                slot.state, slot.worker_id, slot.lease_id, slot.expires_at = (
                    SlotState.OPEN.value,
                    None,
                    None,
                    None,
                )
                expired += 1
        return expired

    def add_answer(self, values: dict[str, Any]) -> int | None:
        for a in self.store.answers.values():
            if (a.task_id, a.worker_id) == (values["task_id"], values["worker_id"]):
                return None
            cid = values.get("client_answer_id")
            if cid and (a.worker_id, a.client_answer_id) == (values["worker_id"], cid):
                return None
        answer = AnswerRow(id=next(self.store.ids), **values)
        self.store.answers[answer.id] = answer
        return answer.id

    def answer_by_client_id(self, worker_id: str, client_answer_id: str) -> AnswerRow | None:
        return next(
            (
                a
                for a in self.store.answers.values()
                if a.worker_id == worker_id and a.client_answer_id == client_answer_id
            ),
            None,
        )

    def answer_of(self, task_id: str, worker_id: str) -> AnswerRow | None:
        return next(
            (
                a
                for a in self.store.answers.values()
                if a.task_id == task_id and a.worker_id == worker_id
            ),
            None,
        )


class FakeWorkerRepository:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def add(self, worker: WorkerRow) -> None:
        self.store.workers[worker.id] = worker

    def get(self, worker_id: str, *, for_update: bool = False) -> WorkerRow | None:
        return self.store.workers.get(worker_id)

    def by_handle(self, handle: str) -> WorkerRow | None:
        return next((w for w in self.store.workers.values() if w.handle == handle), None)

    def by_key_prefix(self, prefix: str, *, for_update: bool = False) -> WorkerRow | None:
        return next((w for w in self.store.workers.values() if w.key_prefix == prefix), None)


class FakeJobRepository:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, job_id: str, *, for_update: bool = False) -> JobRow | None:
        return self.store.jobs.get(job_id)

    def in_stage(self, stage: str) -> Sequence[JobRow]:
        return [j for j in self.store.jobs.values() if j.stage == stage]

    def add_stage_event(self, job_id: str, stage: str, detail: str | None = None) -> None:
        self.store.stage_events.append((job_id, stage, detail))


class FakeDraftRepository:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def latest_for_task(self, task_id: str) -> DraftRow | None:
        return next((d for d in reversed(self.store.drafts) if d.task_id == task_id), None)

    def latest_per_task(self, job_id: str) -> dict[str, DraftRow]:
        return {
            d.task_id: d for d in self.store.drafts if self.store.tasks[d.task_id].job_id == job_id
        }


class PendingOutbox(FakeOutbox):
    """The outbox with the one query the beat sweep asks: which jobs have a step unsent."""

    def jobs_with_pending(self, job_ids: Sequence[str]) -> set[str]:
        # Committed steps count too: the real outbox keeps them pending until relayed.
        steps = self.pending + self.committed
        return {s.job_id for s in steps if s.job_id is not None and s.job_id in job_ids}


def unit_of_work(store: FakeStore, **repositories: Any) -> FakeUnitOfWork:
    """A fake unit of work over the store with every repository the use cases read."""
    from tests.unit.quality.fakes import FakeQualityRepository

    defaults: dict[str, Any] = {
        "work": FakeWorkRepository(store),
        "workers": FakeWorkerRepository(store),
        "jobs": FakeJobRepository(store),
        "drafts": FakeDraftRepository(store),
        "quality": FakeQualityRepository(store),
    }
    uow = FakeUnitOfWork(**{**defaults, **repositories})
    uow.outbox = PendingOutbox()  # type: ignore[assignment]
    return uow


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
