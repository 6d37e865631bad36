"""Use cases of the app's login: one-time codes, sessions, the worker's language.

A code staff hand out (``kazi workers login-code``) is redeemed once for a session; the
session's token lives only in the browser's HttpOnly cookie (the database keeps its hash).
A session ends at ``expires_at`` (absolute), after ``idle_minutes`` without a request, or at
logout. Use cases take an open unit of work and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.db.app_models import AppLoginCodeRow, AppLoginFailureRow, AppSessionRow
from engine.errors import KaziError
from engine.unit_of_work import UnitOfWork
from engine.worker_app import labels, login_code
from engine.worker_app.app_settings import AppSettings, get_app_settings
from engine.worker_app.i18n import LOCALES
from engine.workforce.service import WorkerNotFound

# last_seen_at is written at most this often: a page view is not a write each time.
_SLIDE_EVERY = timedelta(seconds=60)


class LoginCodeMalformed(KaziError):
    status = 400
    code = "login_code_malformed"


class LoginCodeRefused(KaziError):
    """Wrong, used or expired: one answer for all three, so a guess learns nothing more."""

    status = 403
    code = "login_code_refused"


class TooManyLoginAttempts(KaziError):
    status = 429
    code = "too_many_login_attempts"


class UnknownLocale(KaziError):
    status = 400
    code = "unknown_locale"


@dataclass(frozen=True)
class AppSession:
    session_id: str
    worker_id: str
    csrf_token: str
    locale: str
    expires_at: datetime


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _view(row: AppSessionRow) -> AppSession:
    return AppSession(row.id, row.worker_id, row.csrf_token, row.locale, _utc(row.expires_at))


def issue_login_code(
    uow: UnitOfWork,
    handle: str,
    now: datetime | None = None,
    settings: AppSettings | None = None,
) -> tuple[str, str]:
    """A new one-time code for the worker and the path of its login link; the worker's older
    unused codes stop working."""
    settings = settings or get_app_settings()
    now = now or datetime.now(UTC)
    worker = uow.workers.by_handle(handle)
    if worker is None:
        raise WorkerNotFound(f"no worker with handle {handle!r}")
    uow.app_sessions.revoke_unused_codes(worker.id, now)
    code = login_code.new_code()
    uow.app_sessions.add_code(
        AppLoginCodeRow(
            id=str(uuid.uuid4()),
            worker_id=worker.id,
            code_hash=login_code.code_hash(code),
            created_at=now,
            expires_at=now + settings.login_code_lifetime,
        )
    )
    return code, f"/app/login/{code}"


def check_login_allowed(
    uow: UnitOfWork, source: str, now: datetime, settings: AppSettings | None = None
) -> None:
    """Refuse a client address that failed too often in the current window."""
    settings = settings or get_app_settings()
    row = uow.app_sessions.failures_of(source)
    if row is None or _utc(row.window_started_at) + settings.login_failure_window <= now:
        return
    if row.failures >= settings.login_failures_allowed:
        raise TooManyLoginAttempts(labels.TOO_MANY_TRIES)


def record_login_failure(
    uow: UnitOfWork, source: str, now: datetime, settings: AppSettings | None = None
) -> int:
    """Count a failed attempt of the source (its own unit of work: the login's rolls back);
    the count in the current window."""
    settings = settings or get_app_settings()
    row = uow.app_sessions.failures_of(source, for_update=True)
    if row is None:
        fresh = AppLoginFailureRow(source=source[:100], failures=1, window_started_at=now)
        if uow.app_sessions.add_failures(fresh):
            return 1
        row = uow.app_sessions.failures_of(source, for_update=True)
        assert row is not None
    if _utc(row.window_started_at) + settings.login_failure_window <= now:
        row.failures, row.window_started_at = 1, now
    else:
        row.failures += 1
    return row.failures


def redeem_login_code(
    uow: UnitOfWork,
    code: str,
    now: datetime | None = None,
    settings: AppSettings | None = None,
    locale: str = "en",
) -> tuple[str, AppSession]:
    """Exchange a one-time code for a new session: its token (for the cookie) and the session."""
    settings = settings or get_app_settings()
    now = now or datetime.now(UTC)
    normal = login_code.normalize(code)
    if normal is None:
        raise LoginCodeMalformed(labels.CODE_MALFORMED)
    row = uow.app_sessions.code_by_hash(login_code.code_hash(normal), for_update=True)
    if row is None or row.used_at is not None or _utc(row.expires_at) <= now:
        raise LoginCodeRefused(labels.CODE_REFUSED)
    worker = uow.workers.get(row.worker_id)
    if worker is None:  # pragma: no cover - the code row cascades with its worker
        raise LoginCodeRefused(labels.CODE_REFUSED)
    row.used_at = now
    token = secrets.token_urlsafe(32)
    session = AppSessionRow(
        id=str(uuid.uuid4()),
        worker_id=worker.id,
        token_hash=_token_hash(token),
        csrf_token=secrets.token_urlsafe(32),
        locale=locale if locale in LOCALES else "en",
        created_at=now,
        last_seen_at=now,
        expires_at=now + settings.session_length,
    )
    uow.app_sessions.add_session(session)
    return token, _view(session)


def session_for_token(
    uow: UnitOfWork,
    token: str,
    now: datetime | None = None,
    settings: AppSettings | None = None,
) -> AppSession | None:
    """The live session of a cookie's token (sliding its idle expiry), or None."""
    settings = settings or get_app_settings()
    now = now or datetime.now(UTC)
    if not token or len(token) > 128:
        return None
    row = uow.app_sessions.session_by_hash(_token_hash(token))
    if row is None or row.ended_at is not None or _utc(row.expires_at) <= now:
        return None
    last_seen = _utc(row.last_seen_at)
    if last_seen + settings.idle_timeout <= now:
        return None
    if now - last_seen >= _SLIDE_EVERY:
        row.last_seen_at = now
    return _view(row)


def end_session(uow: UnitOfWork, token: str, now: datetime | None = None) -> bool:
    """Log out: the token stops working. False when it was no live session."""
    row = uow.app_sessions.session_by_hash(_token_hash(token)) if token else None
    if row is None or row.ended_at is not None:
        return False
    row.ended_at = now or datetime.now(UTC)
    return True


def set_locale(uow: UnitOfWork, session_id: str, locale: str) -> None:
    if locale not in LOCALES:
        raise UnknownLocale(labels.UNKNOWN_LANGUAGE)
    row = uow.app_sessions.session_by_id(session_id)
    if row is not None:
        row.locale = locale
