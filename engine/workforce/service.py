"""Worker accounts: register, authenticate, link to Label Studio users."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import String

from engine.db.models import WorkerRow
from engine.domain.lease_rules import WorkerStatus, WorkerTier
from engine.errors import KaziError
from engine.unit_of_work import UnitOfWork
from engine.workforce.token_cipher import TokenCipher, default_token_cipher

KEY_SCHEME = "kazw"
HANDLE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


class WorkerError(KaziError):
    """A worker-account call refused; subclasses without a code get their class name's."""

    status = 400
    code = "worker_refused"


class WorkerExists(WorkerError):
    status_code = 409


class WorkerNotFound(WorkerError):
    status_code = 404


@dataclass(frozen=True)
class RegisteredWorker:
    id: str
    handle: str
    tier: str
    api_key: str


def _hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def register_worker(
    uow: UnitOfWork,
    handle: str,
    tier: str = WorkerTier.TRAINEE.value,
    demographics: dict[str, Any] | None = None,
    consented: bool = False,
) -> RegisteredWorker:
    """Create a worker and its API key (shown once). Demographics are kept only with consent."""
    if not HANDLE_PATTERN.match(handle):
        raise WorkerError(
            "handle must be 2-63 characters of lower-case letters, digits, '.', '_' or '-'"
        )
    try:
        tier_value = WorkerTier(tier)
    except ValueError:
        raise WorkerError(f"tier must be one of {[t.value for t in WorkerTier]}") from None
    if demographics and not consented:
        raise WorkerError("demographics are stored only with the worker's consent")
    repo = uow.workers
    if repo.by_handle(handle) is not None:
        raise WorkerExists(f"a worker called {handle!r} exists already")
    prefix = secrets.token_hex(6)
    key = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    worker = WorkerRow(
        id=str(uuid.uuid4()),
        handle=handle,
        tier=tier_value.value,
        demographics=demographics if consented else None,
        key_prefix=prefix,
        key_hash=_hash(key),
    )
    repo.add(worker)
    return RegisteredWorker(worker.id, handle, tier_value.value, key)


def authenticate_worker(uow: UnitOfWork, key: str, *, lock: bool = False) -> WorkerRow | None:
    """The worker a key belongs to; ``lock`` also locks its row for this transaction (what
    leasing needs anyway, so the lookup and the lock are one statement)."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME:
        return None
    worker = uow.workers.by_key_prefix(parts[1], for_update=lock)
    if worker is None or not hmac.compare_digest(_hash(key), worker.key_hash):
        return None
    return worker


# The sealed token must fit the column (a 40-character legacy token takes 147 characters).
_LS_TOKEN_TYPE = WorkerRow.__table__.c.ls_token.type
LS_TOKEN_MAX_CHARS = _LS_TOKEN_TYPE.length if isinstance(_LS_TOKEN_TYPE, String) else None


def link_label_studio_user(
    uow: UnitOfWork,
    worker_id: str,
    ls_user_id: int,
    email: str,
    token: str,
    cipher: TokenCipher | None = None,
) -> None:
    """Map the worker to its Label Studio user; the token is stored encrypted (``cipher``,
    by default the one of this process's data key)."""
    worker = uow.workers.get(worker_id)
    if worker is None:
        raise WorkerNotFound(f"no worker {worker_id}")
    sealed = (cipher or default_token_cipher()).seal(token)
    if LS_TOKEN_MAX_CHARS is not None and len(sealed) > LS_TOKEN_MAX_CHARS:
        raise WorkerError("the Label Studio token is too long to store")
    worker.ls_user_id, worker.ls_email, worker.ls_token = ls_user_id, email, sealed


def label_studio_token(
    uow: UnitOfWork, worker_id: str, cipher: TokenCipher | None = None
) -> str | None:
    """The worker's Label Studio token in clear, or None when it has none. A row still holding
    a plain token (stored before encryption) or one sealed with a previous data key is
    re-encrypted with the current key in this unit of work."""
    worker = uow.workers.get(worker_id)
    if worker is None:
        raise WorkerNotFound(f"no worker {worker_id}")
    if worker.ls_token is None:
        return None
    cipher = cipher or default_token_cipher()
    token = cipher.open(worker.ls_token)
    if cipher.needs_resealing(worker.ls_token):
        worker.ls_token = cipher.seal(token)
    return token


def set_tier(uow: UnitOfWork, handle: str, tier: str) -> None:
    worker = uow.workers.by_handle(handle)
    if worker is None:
        raise WorkerNotFound(f"no worker {handle!r}")
    worker.tier = WorkerTier(tier).value


def set_paused(uow: UnitOfWork, handle: str, paused: bool) -> None:
    worker = uow.workers.by_handle(handle)
    if worker is None:
        raise WorkerNotFound(f"no worker {handle!r}")
    worker.status = (WorkerStatus.PAUSED if paused else WorkerStatus.ACTIVE).value


class LabelStudioAccounts(Protocol):
    def sign_up_worker(self, email: str, password: str) -> tuple[int, str]: ...


def label_studio_email(handle: str) -> str:
    return f"{handle}@workers.kazi.local"


def enrol_in_label_studio(
    uow: UnitOfWork,
    accounts: LabelStudioAccounts,
    worker_id: str,
    password: str,
    cipher: TokenCipher | None = None,
) -> str:
    """Give the worker a Label Studio login (email + password) mapped to this worker; returns
    the email. The worker's Label Studio token stays on the engine side, encrypted."""
    worker = uow.workers.get(worker_id)
    if worker is None:
        raise WorkerNotFound(f"no worker {worker_id}")
    email = label_studio_email(worker.handle)
    user_id, token = accounts.sign_up_worker(email, password)
    link_label_studio_user(uow, worker_id, user_id, email, token, cipher)
    return email
