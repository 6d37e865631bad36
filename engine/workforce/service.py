"""Worker accounts: register, authenticate, link to Label Studio users."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import String

from engine.db.models import WorkerRow
from engine.domain.lease_rules import WorkerStatus, WorkerTier
from engine.errors import KaziError
from engine.publishing.ls_server import label_studio_server
from engine.unit_of_work import UnitOfWork
from engine.workforce.token_cipher import TokenCipher, default_token_cipher

log = logging.getLogger(__name__)

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


def check_registration(
    uow: UnitOfWork,
    handle: str,
    tier: str = WorkerTier.TRAINEE.value,
    demographics: dict[str, Any] | None = None,
    consented: bool = False,
) -> WorkerTier:
    """Raise ``WorkerError`` when ``register_worker`` would refuse these (checked before a
    Label Studio user is made for the worker, so a refusal leaves none behind)."""
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
    if uow.workers.by_handle(handle) is not None:
        raise WorkerExists(f"a worker called {handle!r} exists already")
    return tier_value


def register_worker(
    uow: UnitOfWork,
    handle: str,
    tier: str = WorkerTier.TRAINEE.value,
    demographics: dict[str, Any] | None = None,
    consented: bool = False,
) -> RegisteredWorker:
    """Create a worker and its API key (shown once). Demographics are kept only with consent."""
    tier_value = check_registration(uow, handle, tier, demographics, consented)
    repo = uow.workers
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
    *,
    ls_server: str = "",
) -> None:
    """Map the worker to its user on Label Studio ``ls_server`` (engine/publishing/ls_server.py;
    '' when unknown); the token is stored encrypted (``cipher``, by default the one of this
    process's data key). One user of a server maps to one worker (a unique constraint)."""
    worker = uow.workers.get(worker_id)
    if worker is None:
        raise WorkerNotFound(f"no worker {worker_id}")
    sealed = (cipher or default_token_cipher()).seal(token)
    if LS_TOKEN_MAX_CHARS is not None and len(sealed) > LS_TOKEN_MAX_CHARS:
        raise WorkerError("the Label Studio token is too long to store")
    worker.ls_server, worker.ls_user_id = ls_server, ls_user_id
    worker.ls_email, worker.ls_token = email, sealed


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
    base_url: str  # which server (engine/publishing/ls_server.py)

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
    login = LabelStudioLogin(label_studio_server(accounts.base_url), user_id, email, token)
    _release_stale_mapping(uow, login)
    link_label_studio_user(uow, worker_id, user_id, email, token, cipher, ls_server=login.server)
    return email


def _release_stale_mapping(uow: UnitOfWork, login: LabelStudioLogin) -> None:
    """Label Studio just said who its user ``login.user_id`` is. Another worker mapped to that
    id on the same server is a leftover of a server that was reset at the same address (ids
    restart at 1): its mapping is dropped rather than refusing the real owner."""
    holder = uow.workers.by_ls_user(login.server, login.user_id)
    if holder is not None and holder.ls_email != login.email:
        log.warning(
            "Label Studio %s user %d is %s now; dropping worker %s's stale link to it",
            login.server or "(unknown server)", login.user_id, login.email, holder.handle,
        )  # fmt: skip
        uow.workers.unlink_ls_user(holder)


@dataclass(frozen=True)
class LabelStudioLogin:
    """A Label Studio user made (or found by its email) before the engine records anything."""

    server: str
    user_id: int
    email: str
    token: str


def sign_up_in_label_studio(
    accounts: LabelStudioAccounts, handle: str, password: str
) -> LabelStudioLogin:
    """The worker-to-be's Label Studio user, outside any transaction. An email taken already
    (a run that failed after this step) logs in instead: the same user is reused, not orphaned."""
    email = label_studio_email(handle)
    user_id, token = accounts.sign_up_worker(email, password)
    return LabelStudioLogin(label_studio_server(accounts.base_url), user_id, email, token)


def register_worker_with_login(
    uow: UnitOfWork,
    handle: str,
    tier: str,
    login: LabelStudioLogin,
    demographics: dict[str, object] | None = None,
    consented: bool = False,
    cipher: TokenCipher | None = None,
) -> RegisteredWorker:
    """Register the worker and map it to ``login`` in one transaction (the caller commits)."""
    created = register_worker(uow, handle, tier, demographics, consented)
    _release_stale_mapping(uow, login)
    link_label_studio_user(uow, created.id, login.user_id, login.email, login.token, cipher,
                           ls_server=login.server)  # fmt: skip
    return created
