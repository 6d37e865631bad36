"""All SQL for clients and their API keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import ApiKeyRow, ClientRow


class ClientRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, client_id: str) -> ClientRow | None:
        return self.session.get(ClientRow, client_id)

    def get_by_name(self, name: str) -> ClientRow | None:
        return self.session.scalar(select(ClientRow).where(ClientRow.name == name))

    def add(self, client: ClientRow) -> None:
        self.session.add(client)
        self.session.flush()

    def add_key(self, key: ApiKeyRow) -> None:
        self.session.add(key)
        self.session.flush()

    def active_key_by_prefix(self, prefix: str) -> ApiKeyRow | None:
        return self.session.scalar(
            select(ApiKeyRow).where(ApiKeyRow.prefix == prefix, ApiKeyRow.revoked_at.is_(None))
        )
