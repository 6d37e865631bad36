"""The unit of work: one database transaction with every repository, and the outbox relay.

Every use case takes a ``UnitOfWork``. Entrypoints open one per request or task and commit on
success (engine/api/deps.py ``run_unit_of_work``, workers/tasks.py ``in_unit_of_work``); a use
case that does slow I/O between steps commits each short step itself, and never holds row locks
across object-store writes, Label Studio calls or callback POSTs. After a commit, the outbox
rows written in it are relayed to the broker (engine/pipeline/relay.py).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy.orm import Session, sessionmaker

from engine.assembly.repository import AssemblyRepository
from engine.billing.repository import BillingRepository
from engine.clients.repository import ClientRepository
from engine.drafting.repository import DraftRepository
from engine.earnings.repository import EarningsRepository
from engine.jobs.repository import JobRepository
from engine.label_studio_sync.repository import RefusedAnnotationRepository
from engine.ledger.repository import LedgerRepository
from engine.payouts.repository import PayoutRepository
from engine.pipeline.repository import OutboxRepository, StageLeaseRepository
from engine.publishing.repository import PublishRepository
from engine.quality.repository import QualityRepository
from engine.staff.repository import StaffRepository
from engine.statements.repository import StatementRepository
from engine.training.repository import TrainingRepository
from engine.work.repository import WorkRepository
from engine.worker_app.repository import AppSessionRepository
from engine.workforce.repository import WorkerRepository

if TYPE_CHECKING:
    from engine.pipeline.task_queue import TaskQueue

log = logging.getLogger(__name__)


class UnitOfWork(abc.ABC):
    jobs: JobRepository
    ledger: LedgerRepository
    payouts: PayoutRepository
    staff: StaffRepository
    earnings: EarningsRepository
    drafts: DraftRepository
    work: WorkRepository
    quality: QualityRepository
    publishing: PublishRepository
    assembly: AssemblyRepository
    clients: ClientRepository
    workers: WorkerRepository
    refused_annotations: RefusedAnnotationRepository
    outbox: OutboxRepository
    stage_leases: StageLeaseRepository
    billing: BillingRepository
    statements: StatementRepository
    training: TrainingRepository
    app_sessions: AppSessionRepository

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def flush(self) -> None:
        """Send pending writes inside the transaction (ids, constraint checks) without ending it."""

    @abc.abstractmethod
    def rollback(self) -> None: ...


class SqlAlchemyUnitOfWork(UnitOfWork):
    """A session per ``with`` block. ``commit`` may be called several times in one block:
    each call ends one short transaction and relays the outbox rows it wrote."""

    session: Session

    def __init__(self, sessions: sessionmaker[Session], queue: TaskQueue | None = None) -> None:
        self._sessions = sessions
        self._queue = queue
        self._open = False

    def __enter__(self) -> Self:
        if self._open:
            raise RuntimeError("this unit of work is already open; make a new one")
        self._open = True
        self.session = session = self._sessions()
        self.jobs = JobRepository(session)
        self.ledger = LedgerRepository(session)
        self.payouts = PayoutRepository(session)
        self.staff = StaffRepository(session)
        self.earnings = EarningsRepository(session)
        self.drafts = DraftRepository(session)
        self.work = WorkRepository(session)
        self.quality = QualityRepository(session)
        self.publishing = PublishRepository(session)
        self.assembly = AssemblyRepository(session)
        self.clients = ClientRepository(session)
        self.workers = WorkerRepository(session)
        self.refused_annotations = RefusedAnnotationRepository(session)
        self.outbox = OutboxRepository(session)
        self.stage_leases = StageLeaseRepository(session)
        self.billing = BillingRepository(session)
        self.statements = StatementRepository(session)
        self.training = TrainingRepository(session)
        self.app_sessions = AppSessionRepository(session)
        return super().__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        finally:
            self.session.close()
            self._open = False

    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        self.session.flush()
        ids = self.outbox.take_added_ids()
        self.session.commit()
        if ids and self._queue is not None:
            self._relay(ids)

    def rollback(self) -> None:
        self.outbox.forget_added()
        self.session.rollback()

    def _relay(self, ids: list[int]) -> None:
        from engine.pipeline.relay import relay

        try:
            relay(lambda: SqlAlchemyUnitOfWork(self._sessions), self._queue, ids=ids)  # type: ignore[arg-type]
        except Exception:  # committed rows stay pending; the beat relays them
            log.exception("outbox relay after commit failed; the beat will relay")


UnitOfWorkFactory = Callable[[], UnitOfWork]
