"""All SQL of the worker app's login codes, sessions and failed-login counter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.db.app_models import AppLoginCodeRow, AppLoginFailureRow, AppSessionRow


class AppSessionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # Login codes
    def add_code(self, row: AppLoginCodeRow) -> None:
        self._session.add(row)

    def code_by_hash(self, code_hash: str, *, for_update: bool = False) -> AppLoginCodeRow | None:
        query = select(AppLoginCodeRow).where(AppLoginCodeRow.code_hash == code_hash)
        if for_update:
            query = query.with_for_update(key_share=True)
        return self._session.scalars(query).first()

    def revoke_unused_codes(self, worker_id: str, now: datetime) -> int:
        """End the worker's unused, unexpired codes (a new code replaces them)."""
        result = self._session.execute(
            update(AppLoginCodeRow)
            .where(
                AppLoginCodeRow.worker_id == worker_id,
                AppLoginCodeRow.used_at.is_(None),
                AppLoginCodeRow.expires_at > now,
            )
            .values(expires_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # Sessions
    def add_session(self, row: AppSessionRow) -> None:
        self._session.add(row)

    def session_by_hash(self, token_hash: str) -> AppSessionRow | None:
        query = select(AppSessionRow).where(AppSessionRow.token_hash == token_hash)
        return self._session.scalars(query).first()

    def session_by_id(self, session_id: str) -> AppSessionRow | None:
        return self._session.get(AppSessionRow, session_id)

    # Failed logins
    def failures_of(self, source: str, *, for_update: bool = False) -> AppLoginFailureRow | None:
        query = select(AppLoginFailureRow).where(AppLoginFailureRow.source == source)
        if for_update:
            query = query.with_for_update(key_share=True)
        return self._session.scalars(query).first()

    def add_failures(self, row: AppLoginFailureRow) -> bool:
        """Insert the source's first row; False when a concurrent request inserted it first."""
        try:
            with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            return False
        return True
