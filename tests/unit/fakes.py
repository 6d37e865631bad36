"""Fakes of the engine's ports for unit tests: a unit of work, its outbox, the task queue.

Area fakes (fake repositories) live beside the tests that use them and are handed to
``FakeUnitOfWork`` by keyword: ``FakeUnitOfWork(work=FakeWorkRepository(...))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.db.billing_models import JobBillingRow
from engine.pipeline.routing import Step
from engine.unit_of_work import UnitOfWork
from tests.unit.ledger.fake_ledger import FakeLedgerRepository
from tests.unit.training.fake_training import FakeTrainingRepository


@dataclass
class SentStep:
    task: str
    queue: str
    args: list[Any]
    job_id: str | None


@dataclass
class FakeOutbox:
    """Records steps; ``committed`` holds what the unit of work's commits made durable."""

    pending: list[SentStep] = field(default_factory=list)
    committed: list[SentStep] = field(default_factory=list)

    def add(self, step: Step, args: Sequence[Any], job_id: str | None) -> None:
        self.pending.append(SentStep(step.task, step.queue, list(args), job_id))

    def take_added_ids(self) -> list[int]:
        return []

    def forget_added(self) -> None:
        self.pending = []

    def tasks(self) -> list[str]:
        return [s.task for s in self.committed]


class FakeBillingRepository:
    """The job_billing rows (a job with a pay rate has one from intake on)."""

    def __init__(self) -> None:
        self.rows: dict[str, JobBillingRow] = {}

    def add(self, row: JobBillingRow) -> None:
        assert row.job_id not in self.rows
        self.rows[row.job_id] = row

    def get(self, job_id: str, *, for_update: bool = False) -> JobBillingRow | None:
        return self.rows.get(job_id)


class FakeUnitOfWork(UnitOfWork):
    """Counts commits; on commit the outbox's pending steps become committed, on rollback they
    are dropped, like the real outbox."""

    def __init__(self, **repositories: Any) -> None:
        self.outbox = FakeOutbox()  # type: ignore[assignment]
        self.ledger = FakeLedgerRepository()  # type: ignore[assignment]
        self.billing = FakeBillingRepository()  # type: ignore[assignment]
        self.training = FakeTrainingRepository()  # type: ignore[assignment]
        for name, repo in repositories.items():
            setattr(self, name, repo)
        self.commits = 0
        self.rollbacks = 0

    def commit(self) -> None:
        self.commits += 1
        fake: FakeOutbox = self.outbox  # type: ignore[assignment]
        fake.committed.extend(fake.pending)
        fake.pending = []

    def rollback(self) -> None:
        self.rollbacks += 1
        self.outbox.forget_added()

    def flush(self) -> None:
        pass


@dataclass
class FakeTaskQueue:
    sent: list[tuple[str, list[Any], str]] = field(default_factory=list)
    down: bool = False

    def ping(self) -> None:
        if self.down:
            raise ConnectionError("broker is down")

    def send(self, task: str, args: Sequence[Any], queue: str) -> None:
        if self.down:
            raise ConnectionError("broker is down")
        self.sent.append((task, list(args), queue))
