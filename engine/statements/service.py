"""Statement use cases: issue a worker's signed statement, verify one someone shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.settings import Settings
from engine.statements.builder import build_statement
from engine.statements.keys import StatementKeys, statement_keys
from engine.statements.signing import Verdict, sign_document, verify_document
from engine.unit_of_work import UnitOfWork


def issue_statement(
    uow: UnitOfWork,
    worker_id: str,
    month: str,
    settings: Settings,
    keys: StatementKeys | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The worker's statement for ``month`` (YYYY-MM), signed with the current key."""
    keys = keys or statement_keys(settings)
    document = build_statement(uow, worker_id, month, issuer_url=settings.public_url, now=now)
    return sign_document(document, keys.signing)


def verify_statement(
    document: Any, settings: Settings, keys: StatementKeys | None = None
) -> Verdict:
    """Whether ``document`` is a statement this engine signed (with its current key or one
    in KAZI_STATEMENT_SIGNING_KEY_PREVIOUS) and nobody changed since."""
    keys = keys or statement_keys(settings)
    return verify_document(document, keys.verifying)
