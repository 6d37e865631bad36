"""All SQL for worker accounts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.db.models import WorkerRow

# Every worker API call looks its key up; the statements are built once.
_BY_KEY_PREFIX = select(WorkerRow).where(WorkerRow.key_prefix == bindparam("prefix"))
_BY_KEY_PREFIX_LOCKED = _BY_KEY_PREFIX.with_for_update(key_share=True)


class WorkerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, worker: WorkerRow) -> None:
        self.session.add(worker)
        self.session.flush()

    def get(self, worker_id: str, *, for_update: bool = False) -> WorkerRow | None:
        if for_update:
            return self.session.scalar(
                select(WorkerRow).where(WorkerRow.id == worker_id).with_for_update(key_share=True)
            )
        return self.session.get(WorkerRow, worker_id)

    def by_handle(self, handle: str) -> WorkerRow | None:
        return self.session.scalar(select(WorkerRow).where(WorkerRow.handle == handle))

    def by_key_prefix(self, prefix: str, *, for_update: bool = False) -> WorkerRow | None:
        stmt = _BY_KEY_PREFIX_LOCKED if for_update else _BY_KEY_PREFIX
        return self.session.scalar(stmt, {"prefix": prefix})

    def by_ls_user(self, server: str, ls_user_id: int) -> WorkerRow | None:
        return self.session.scalar(
            select(WorkerRow).where(
                WorkerRow.ls_server == server, WorkerRow.ls_user_id == ls_user_id
            )
        )

    def unlink_ls_user(self, worker: WorkerRow) -> None:
        """Forget the worker's Label Studio login, written at once (before another worker
        takes the same user id, which the unique constraint would refuse)."""
        worker.ls_server = worker.ls_user_id = worker.ls_email = worker.ls_token = None
        self.session.flush()

    def all(self) -> Sequence[WorkerRow]:
        return self.session.scalars(select(WorkerRow).order_by(WorkerRow.handle)).all()
