"""Refuse control characters in a request's path or query string with a 422, before routing.

Ids arrive in paths (``/v1/jobs/{job_id}``, ``/v1/work/{lease_id}/submit``) and query strings;
none of them ever holds a control character, and PostgreSQL cannot store a NUL at all (psycopg
raises DataError: a 500). One rule here covers every route. Bodies have theirs in the schemas
(``schemas/safe_text.py``).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from engine.api.errors import FieldError, error_response

# C0 controls (NUL included), DEL and the C1 controls; the path arrives percent-decoded.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def control_character_in(scope: Scope) -> str | None:
    """``"path"`` or ``"query"`` when that part of the request holds a control character."""
    if _CONTROL.search(scope["path"]):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if query and _CONTROL.search(unquote_to_bytes(query).decode("utf-8", "replace")):
        return "query"
    return None


class RefuseControlCharacters:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = control_character_in(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        message = f"the request {where} contains a control character"
        error = FieldError(loc=[where], msg=message, type="control_character")
        response = error_response(422, "invalid_request", f"invalid request: {message}", [error])
        await response(scope, receive, send)
