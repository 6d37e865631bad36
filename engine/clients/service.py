"""Client use cases: create tenants, issue and check API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from engine.clients.api_keys import issue_key, key_matches, parse_prefix
from engine.clients.repository import ClientRepository
from engine.db.models import ApiKeyRow, ClientRow
from engine.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ClientWithKey:
    client_id: str
    name: str
    api_key: str


class ClientExists(ValueError):
    pass


def create_client(uow: UnitOfWork, name: str, key_label: str = "default") -> ClientWithKey:
    repo = uow.clients
    if repo.get_by_name(name) is not None:
        raise ClientExists(f"a client named {name!r} exists already")
    client = ClientRow(id=str(uuid.uuid4()), name=name)
    repo.add(client)
    return ClientWithKey(client.id, client.name, _new_key(repo, client.id, key_label))


def _new_key(repo: ClientRepository, client_id: str, label: str) -> str:
    issued = issue_key()
    repo.add_key(
        ApiKeyRow(
            id=str(uuid.uuid4()),
            client_id=client_id,
            prefix=issued.prefix,
            key_hash=issued.key_hash,
            label=label,
        )
    )
    return issued.plaintext


def ensure_client(uow: UnitOfWork, name: str) -> str:
    """The id of the named client, created without a key if missing (the CLI's local tenant)."""
    repo = uow.clients
    existing = repo.get_by_name(name)
    if existing is not None:
        return existing.id
    client = ClientRow(id=str(uuid.uuid4()), name=name)
    repo.add(client)
    return client.id


def authenticate(uow: UnitOfWork, plaintext: str) -> str | None:
    """The client id an API key belongs to, or None."""
    prefix = parse_prefix(plaintext)
    if prefix is None:
        return None
    key = uow.clients.active_key_by_prefix(prefix)
    if key is None or not key_matches(plaintext, key.key_hash):
        return None
    return key.client_id
