"""Bound every request body by its route's limit, counted as the bytes arrive.

Each route has a limit (``BodyLimits.for_request``): uploads the configured upload size, JSON
routes a small one. The bytes of the ``http.request`` messages the app reads are counted,
whether the body has a Content-Length or comes chunked, and the read that passes the limit
raises ``RequestTooLarge`` (a 413): a multipart parser stops spooling there, a JSON route never
buffers more than its limit. A declared Content-Length over the limit is refused at the first
read, before any of the body is taken.

Nothing is refused before the app asks for the body, so a route checks credentials first and a
caller without them gets its 401 whatever it sends. A response that leaves a large or
unknown-sized rest of the body unread says ``Connection: close``: the server then drops the
connection instead of reading and discarding what the client goes on sending.

A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs every request through an extra
task and stream, which cost the worker API measurable time per call under load. A request with
a Content-Length within its limit passes straight through (the server reads no more than that).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.api.errors import error_response

KIB = 1024
MIB = 1024 * KIB

# A lease, a release or a review lease: a job id at most.
WORKER_CALL_BODY_LIMIT = 64 * KIB
# An answer or a review: up to 20 000 characters of text (6 bytes each as JSON escapes at
# worst) or 500 boxes.
ANSWER_BODY_LIMIT = 256 * KIB
# The JSON job form: a spec (1 MiB at most, schemas/jobs.py) and its list of stored objects.
JOB_JSON_BODY_LIMIT = 4 * MIB
# A Label Studio webhook carries a few annotations; a bulk one a few hundred at most.
WEBHOOK_BODY_LIMIT = 4 * MIB
# A payout provider's result (M-Pesa, MoMo): a few hundred bytes.
PROVIDER_RESULT_BODY_LIMIT = 16 * KIB
# Every other route takes no body worth the name.
DEFAULT_BODY_LIMIT = 64 * KIB
# Room for multipart framing and the spec field around an upload of the allowed size.
MULTIPART_SLACK = 1 * MIB


class RequestTooLarge(HTTPException):
    """The body passed its route's limit (an HTTPException, so FastAPI's and Starlette's body
    readers let it through to the error handler)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request is larger than the limit of {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class BodyLimits:
    """The body limit of each route. ``upload_bytes`` is KAZI_MAX_UPLOAD_BYTES."""

    upload_bytes: int

    def for_request(self, path: str, content_type: bytes) -> int:
        if path == "/v1/jobs":
            if content_type.startswith(b"multipart/form-data"):
                return self.upload_bytes + MULTIPART_SLACK
            return JOB_JSON_BODY_LIMIT  # JSON, or a url-encoded form without files
        if path == "/v1/jobs/quote":
            return JOB_JSON_BODY_LIMIT  # the same spec as intake, with its gold texts
        if path.startswith("/v1/media/"):
            return self.upload_bytes  # presigned PUT to the local store
        if path == "/v1/hooks/label-studio":
            return WEBHOOK_BODY_LIMIT
        if path.startswith(("/v1/hooks/mpesa/", "/v1/hooks/momo/")):
            return PROVIDER_RESULT_BODY_LIMIT
        if path.startswith(("/v1/work/", "/v1/review/")):
            return ANSWER_BODY_LIMIT if path.endswith("/submit") else WORKER_CALL_BODY_LIMIT
        if path.startswith("/app/task/") and path.endswith("/submit"):
            return ANSWER_BODY_LIMIT  # the worker app's answers: the same as the worker API's
        return DEFAULT_BODY_LIMIT


class BodySizeLimit:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked, content_type = _framing(scope)
        limit = self.limits.for_request(scope["path"], content_type)
        if not chunked and declared <= limit:
            # The server delivers at most the declared length: nothing to count.
            await self.app(scope, receive, send)
            return
        body = _CountedBody(receive, send, limit, declared)
        try:
            await self.app(scope, body.receive, body.send)
        except RequestTooLarge as exc:
            if body.response_started:
                raise
            # An app without the engine's error handlers (the engine's own answer the same).
            await error_response(413, "request_too_large", str(exc.detail))(
                scope, body.receive, body.send
            )


def _framing(scope: Scope) -> tuple[int, bool, bytes]:
    """(declared Content-Length or 0, whether the body is chunked, the content type)."""
    declared, chunked, content_type = 0, False, b""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            declared = int(value) if value.isdigit() else 0
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"content-type":
            content_type = value.lower()
    return declared, chunked, content_type


class _CountedBody:
    """One request's body reads, counted against its limit, and its response's first message."""

    def __init__(self, receive: Receive, send: Send, limit: int, declared: int) -> None:
        self._receive, self._send = receive, send
        self.limit, self.declared = limit, declared
        self.received = 0
        self.complete = False
        self.exceeded = False
        self.response_started = False

    async def receive(self) -> Message:
        if self.exceeded or self.declared > self.limit:
            self.exceeded = True
            raise RequestTooLarge(self.limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.exceeded = True
                raise RequestTooLarge(self.limit)
            self.complete = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
            if not self.complete:
                # The rest of the body is over the limit or of unknown size: do not drain it.
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
        await self._send(message)
