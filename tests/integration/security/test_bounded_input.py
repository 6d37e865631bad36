"""Bounded input everywhere: every body is held to its route's limit as it arrives (declared or
chunked), credentials are checked before a body is read, ids and strings with control
characters are a 422 that never reaches the database, a malformed Label Studio webhook is a 400
that says why, and booleans are strict. The last test runs a real ``kazi serve`` and sends it
300 MB bodies: refused early, with the server's memory bounded."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from itertools import islice, repeat
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from engine.api.body_limit import (
    ANSWER_BODY_LIMIT,
    JOB_JSON_BODY_LIMIT,
    MULTIPART_SLACK,
    WEBHOOK_BODY_LIMIT,
    WORKER_CALL_BODY_LIMIT,
)
from tests.conftest import REPO_ROOT, TEST_VAR, make_client

WORKER, CLIENT, HOOK, NONE, WRONG_WORKER = "worker", "client", "hook", "none", "wrong worker"
UNKNOWN = str(uuid.uuid4())  # a job or lease id nothing has
CHUNK = 64 * 1024


def _run_async(coroutine):  # type: ignore[no-untyped-def]
    """Run a coroutine to completion in a thread of its own: the session's browser fixture
    (Playwright's sync API) may already run an event loop in this thread."""
    out: dict[str, object] = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["value"]


@pytest.fixture(scope="module")
def creds(ctx) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    worker = ctx.in_unit_of_work(register_worker, f"bounded-{uuid.uuid4().hex[:8]}", "reviewer")
    _, client = make_client(ctx)
    return {
        WORKER: {"Authorization": f"Bearer {worker.api_key}"},
        WRONG_WORKER: {"Authorization": "Bearer kazw_nope_nope"},
        CLIENT: client,
        HOOK: {"X-Kazi-Webhook-Secret": ctx.settings.webhook_secret},
        NONE: {},
    }


def _padded(body: Any, size: int) -> bytes:
    """``body`` as JSON, padded with trailing spaces (still valid JSON) to ``size`` bytes."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def _post_json(api: TestClient, path: str, headers: dict[str, str], content: bytes):  # type: ignore[no-untyped-def]
    return api.post(path, headers={**headers, "content-type": "application/json"}, content=content)


# -- each route's JSON body limit (declared Content-Length) --------------------------------------


@dataclasses.dataclass
class Route:
    name: str
    path: str
    cred: str
    limit: int
    body: dict[str, Any]  # valid, so the route gets past validation at the limit
    id_field: str = ""  # an id the body carries


ROUTES = [
    Route("lease", "/v1/work/next", WORKER, WORKER_CALL_BODY_LIMIT, {"job_id": UNKNOWN}, "job_id"),
    Route(
        "submit",
        f"/v1/work/{UNKNOWN}/submit",
        WORKER,
        ANSWER_BODY_LIMIT,
        {"client_answer_id": "c-1", "answer": {"text": "hello"}},
        "client_answer_id",
    ),
    Route(
        "review lease",
        "/v1/review/next",
        WORKER,
        WORKER_CALL_BODY_LIMIT,
        {"job_id": UNKNOWN},
        "job_id",
    ),  # fmt: skip
    Route(
        "review submit",
        f"/v1/review/{UNKNOWN}/submit",
        WORKER,
        ANSWER_BODY_LIMIT,
        {"client_review_id": "r-1", "decision": "accept"},
        "client_review_id",
    ),
    Route(
        "JSON job",
        "/v1/jobs",
        CLIENT,
        JOB_JSON_BODY_LIMIT,
        {"spec": {"kind": "transcription"}, "sources": [{"key": "clients/someone-else/a.wav"}]},
    ),
    Route("webhook", "/v1/hooks/label-studio", HOOK, WEBHOOK_BODY_LIMIT, {"action": "X"}),
]


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_each_json_route_takes_its_limit_and_not_a_byte_more(api, creds, route: Route):
    at_limit = _post_json(api, route.path, creds[route.cred], _padded(route.body, route.limit))
    assert at_limit.status_code != 413 and at_limit.status_code < 500, at_limit.text
    over = _post_json(api, route.path, creds[route.cred], _padded(route.body, route.limit + 1))
    assert over.status_code == 413, over.text
    assert over.json() == {
        "detail": f"request is larger than the limit of {route.limit} bytes",
        "code": "request_too_large",
    }


def test_a_url_encoded_job_form_has_the_json_limit(api, creds):
    body = b"spec=" + b"x" * JOB_JSON_BODY_LIMIT
    headers = {**creds[CLIENT], "content-type": "application/x-www-form-urlencoded"}
    resp = api.post("/v1/jobs", headers=headers, content=body)
    assert resp.status_code == 413 and resp.json()["code"] == "request_too_large", resp.text


# -- chunked bodies, counted as they arrive: the app pulls no more than the limit --------------


@dataclasses.dataclass
class Pulled:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    bytes_pulled: int


async def _asgi_post(
    app: Any, path: str, headers: dict[str, str], chunks: Iterator[bytes]
) -> Pulled:
    """POST a chunked body straight into the ASGI app; count the bytes the app pulled."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
        "headers": [(b"transfer-encoding", b"chunked")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Pulled(start["status"], dict(start["headers"]), body, pulled)


def _chain(first: bytes) -> Iterator[bytes]:
    """``first``, then spaces: 300 MB in all, generated as it is pulled."""
    if first:
        yield first
    yield from islice(repeat(b" " * CHUNK), 300 * 1024 * 1024 // CHUNK)


def _multipart_start(boundary: str) -> bytes:
    spec = json.dumps({"kind": "transcription"})
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="spec"\r\n\r\n{spec}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()


UPLOAD_LIMIT = 1024 * 1024  # KAZI_MAX_UPLOAD_BYTES of the app these tests build


@dataclasses.dataclass
class Chunked:
    name: str
    path: str
    cred: str
    limit: int
    content_type: str = "application/json"
    first: bytes = b""


CHUNKED = [
    *[Chunked(r.name, r.path, r.cred, r.limit) for r in ROUTES],
    Chunked(
        "multipart upload",
        "/v1/jobs",
        CLIENT,
        UPLOAD_LIMIT + MULTIPART_SLACK,
        "multipart/form-data; boundary=kazi-b",
        _multipart_start("kazi-b"),
    ),
]


@pytest.fixture(scope="module")
def small_upload_app(ctx):  # type: ignore[no-untyped-def]
    from engine.api.app import create_app

    settings = ctx.settings.model_copy(update={"max_upload_bytes": UPLOAD_LIMIT})
    return create_app(dataclasses.replace(ctx, settings=settings))


@pytest.mark.parametrize("case", CHUNKED, ids=[c.name for c in CHUNKED])
def test_a_chunked_body_is_refused_once_past_the_limit(small_upload_app, creds, case: Chunked):
    headers = {**creds[case.cred], "content-type": case.content_type}
    got = _run_async(_asgi_post(small_upload_app, case.path, headers, _chain(case.first)))
    assert got.status == 413, got.body
    assert json.loads(got.body)["code"] == "request_too_large"
    # Refused at the chunk that passed the limit: the multipart parser spooled no further.
    assert case.limit < got.bytes_pulled <= case.limit + CHUNK + len(case.first)
    # The rest is not drained: the server closes the connection after the 413.
    assert got.headers.get(b"connection") == b"close"


@pytest.mark.parametrize("case", CHUNKED, ids=[c.name for c in CHUNKED])
def test_without_credentials_no_byte_of_a_chunked_body_is_read(small_upload_app, case: Chunked):
    headers = {"content-type": case.content_type}
    got = _run_async(_asgi_post(small_upload_app, case.path, headers, _chain(case.first)))
    assert got.status == 401, got.body
    assert got.bytes_pulled == 0
    assert got.headers.get(b"connection") == b"close"


def test_a_small_chunked_body_read_whole_keeps_the_connection(small_upload_app, creds):
    chunks = iter([json.dumps({"job_id": UNKNOWN}).encode()])
    got = _run_async(_asgi_post(small_upload_app, "/v1/work/next", creds[WORKER], chunks))
    assert got.status == 404, got.body  # read, validated, and the job looked up
    assert b"connection" not in got.headers


# -- the key before the body ------------------------------------------------------------------


@dataclasses.dataclass
class BadBody:
    name: str
    content: bytes
    status_with_key: int  # what a caller with a valid key gets


def _bad_bodies(route: Route) -> list[BadBody]:
    def with_(**fields: Any) -> bytes:
        return json.dumps({**route.body, **fields}).encode()

    return [
        BadBody("oversized", _padded(route.body, route.limit + 1), 413),
        BadBody("not JSON", b'{"job_id": ', 422),
        BadBody("wrong type", with_(**{route.id_field: 5}), 422),
        BadBody("unknown field", with_(extra=1), 422),
        BadBody("NUL in an id", with_(**{route.id_field: "a\x00b"}), 422),
    ]


KEY_FIRST = [(route, bad) for route in ROUTES if route.cred == WORKER for bad in _bad_bodies(route)]


@pytest.mark.parametrize(
    ("route", "bad"), KEY_FIRST, ids=[f"{r.name}-{b.name}" for r, b in KEY_FIRST]
)
def test_a_bad_body_without_a_valid_key_is_a_401(api, creds, route: Route, bad: BadBody):
    for cred in (NONE, WRONG_WORKER, CLIENT):
        resp = _post_json(api, route.path, creds[cred], bad.content)
        assert resp.status_code == 401, (cred, resp.text)
        assert resp.headers["www-authenticate"] == "Bearer"
    with_key = _post_json(api, route.path, creds[WORKER], bad.content)
    assert with_key.status_code == bad.status_with_key, with_key.text


def test_an_empty_submit_is_a_422_for_the_body_only_with_a_valid_key(api, creds):
    path = f"/v1/work/{UNKNOWN}/submit"
    assert api.post(path, headers=creds[WRONG_WORKER]).status_code == 401
    resp = api.post(path, headers=creds[WORKER])
    assert resp.status_code == 422
    assert [e["loc"] for e in resp.json()["errors"]] == [["body"]]


# -- control characters in paths and query strings ---------------------------------------------


@dataclasses.dataclass
class BadPath:
    method: str
    path: str
    cred: str
    where: str = "path"


BAD_PATHS = [
    BadPath("GET", "/v1/jobs/a%00b", CLIENT),
    BadPath("GET", "/v1/jobs/a%00b/tasks", CLIENT),
    BadPath("GET", "/v1/jobs/a%00b/deliverables", CLIENT),
    BadPath("GET", "/v1/jobs/a%00b", NONE),
    BadPath("POST", "/v1/work/a%00b/submit", WORKER),
    BadPath("POST", "/v1/work/a%00b/release", WORKER),
    BadPath("POST", "/v1/review/a%00b/submit", WORKER),
    BadPath("GET", "/v1/jobs/a%1bb", CLIENT),  # ESC
    BadPath("GET", "/v1/jobs/a%7fb", CLIENT),  # DEL
    BadPath("GET", "/v1/jobs/a%C2%85b", CLIENT),  # NEL, a C1 control
    BadPath("GET", "/v1/media/a%00b.wav?expires=1&signature=x", NONE),
    BadPath("GET", "/v1/jobs?limit=1%00", CLIENT, "query"),
    BadPath("GET", f"/v1/jobs/{UNKNOWN}/tasks?offset=%0a", CLIENT, "query"),
]


@pytest.mark.parametrize("case", BAD_PATHS, ids=[f"{c.method} {c.path}" for c in BAD_PATHS])
def test_a_control_character_in_a_path_or_query_is_a_422(api, creds, case: BadPath):
    body = {"client_answer_id": "c", "answer": {}, "decision": "accept"}
    kwargs = {"json": body} if case.method == "POST" else {}
    resp = api.request(case.method, case.path, headers=creds[case.cred], **kwargs)
    assert resp.status_code == 422, resp.text
    assert resp.json() == {
        "detail": f"invalid request: the request {case.where} contains a control character",
        "code": "invalid_request",
        "errors": [
            {
                "loc": [case.where],
                "msg": f"the request {case.where} contains a control character",
                "type": "control_character",
            }
        ],
    }


def test_ordinary_paths_and_queries_pass(api, creds):
    assert api.get(f"/v1/jobs/{UNKNOWN}", headers=creds[CLIENT]).status_code == 404
    assert api.get("/v1/jobs?limit=5&offset=0", headers=creds[CLIENT]).status_code == 200
    assert api.get("/v1/jobs/caf%C3%A9", headers=creds[CLIENT]).status_code == 404


# -- control characters in JSON strings -----------------------------------------------------------


@dataclasses.dataclass
class BadString:
    name: str
    path: str
    cred: str
    body: dict[str, Any]
    loc: list[str | int]


SOURCES = [{"key": "clients/someone-else/a.wav"}]
BAD_STRINGS = [
    BadString("lease job id", "/v1/work/next", WORKER, {"job_id": "a\x00b"}, ["body", "job_id"]),
    BadString("lease job id ESC", "/v1/work/next", WORKER, {"job_id": "a\x1b"}, ["body", "job_id"]),
    BadString(
        "client_answer_id",
        f"/v1/work/{UNKNOWN}/submit",
        WORKER,
        {"client_answer_id": "a\x00b", "answer": {"text": "hi"}},
        ["body", "client_answer_id"],
    ),
    BadString(
        "answer text",
        f"/v1/work/{UNKNOWN}/submit",
        WORKER,
        {"client_answer_id": "c", "answer": {"text": "a\x00b"}},
        ["body", "answer"],
    ),
    BadString(
        "answer key",
        f"/v1/work/{UNKNOWN}/submit",
        WORKER,
        {"client_answer_id": "c", "answer": {"boxes": [{"la\x00bel": "car"}]}},
        ["body", "answer"],
    ),
    BadString("review job id", "/v1/review/next", WORKER, {"job_id": "\x00"}, ["body", "job_id"]),
    BadString(
        "client_review_id",
        f"/v1/review/{UNKNOWN}/submit",
        WORKER,
        {"client_review_id": "r\x00", "decision": "accept"},
        ["body", "client_review_id"],
    ),
    BadString(
        "review correction",
        f"/v1/review/{UNKNOWN}/submit",
        WORKER,
        {"client_review_id": "r", "decision": "correct", "answer": {"text": "\x00"}},
        ["body", "answer"],
    ),
    BadString(
        "job label",
        "/v1/jobs",
        CLIENT,
        {"spec": {"kind": "image_classification", "labels": ["a\x00", "b"]}, "sources": SOURCES},
        ["spec", "labels", 0],
    ),
    BadString(
        "gold text",
        "/v1/jobs",
        CLIENT,
        {
            "spec": {"kind": "transcription", "gold": [{"filename": "a.wav", "text": "\x00"}]},
            "sources": SOURCES,
        },
        ["spec", "gold", 0, "text"],
    ),  # fmt: skip
    BadString(
        "source key",
        "/v1/jobs",
        CLIENT,
        {"spec": {"kind": "transcription"}, "sources": [{"key": "clients/x/a\x00.wav"}]},
        ["sources", 0, "key"],
    ),
    BadString(
        "source filename",
        "/v1/jobs",
        CLIENT,
        {"spec": {"kind": "transcription"}, "sources": [{"key": "k", "filename": "a\x07.wav"}]},
        ["sources", 0, "filename"],
    ),
]


@pytest.mark.parametrize("case", BAD_STRINGS, ids=[c.name for c in BAD_STRINGS])
def test_a_control_character_in_an_id_or_a_nul_in_text_is_a_422(api, creds, case: BadString):
    resp = api.post(case.path, headers=creds[case.cred], json=case.body)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["code"] == "invalid_request"
    assert case.loc in [e["loc"] for e in body["errors"]], body
    assert "control characters" in body["detail"] or "NUL" in body["detail"], body


def test_free_text_keeps_newlines_and_tabs(api, creds):
    # Past validation: the unknown lease is what refuses it.
    body = {"client_answer_id": "c-nl", "answer": {"text": "line one\nline\ttwo"}}
    resp = api.post(f"/v1/work/{UNKNOWN}/submit", headers=creds[WORKER], json=body)
    assert resp.status_code == 404, resp.text


# -- strict booleans -------------------------------------------------------------------------------


@pytest.mark.parametrize("lowres", [0, 1, "true", "false", "yes", "1", None, 0.0])
def test_lowres_takes_only_true_or_false(api, creds, lowres: Any):
    resp = api.post("/v1/work/next", headers=creds[WORKER], json={"lowres": lowres})
    assert resp.status_code == 422, resp.text
    assert [e["loc"] for e in resp.json()["errors"]] == [["body", "lowres"]]


@pytest.mark.parametrize("lowres", [True, False])
def test_lowres_true_or_false_is_accepted(api, creds, lowres: bool):
    resp = api.post(
        "/v1/work/next", headers=creds[WORKER], json={"lowres": lowres, "job_id": UNKNOWN}
    )
    assert resp.status_code == 404, resp.text  # validated; then the job is not found


def test_worker_registration_booleans_are_strict():
    from pydantic import ValidationError

    from schemas.work import WorkerCreate

    assert WorkerCreate(handle="ana", consented=True).consented is True
    with pytest.raises(ValidationError, match="valid boolean"):
        WorkerCreate.model_validate({"handle": "ana", "consented": 1})


# -- malformed Label Studio webhooks ------------------------------------------------------------


@dataclasses.dataclass
class Webhook:
    name: str
    body: Any  # bytes as sent, or a JSON value
    reason: str


PROJECT = {"id": 10**9}
BIG = 2**31  # past the 32-bit ids the engine stores
MALFORMED_WEBHOOKS = [
    Webhook("not JSON", b"{not json", "the body is not JSON"),
    Webhook("not UTF-8", b'{"action": "\xff"}', "the body is not JSON"),
    Webhook("NaN", b'{"action": "ANNOTATION_CREATED", "x": NaN}', "the body is not JSON"),
    Webhook("nested too deeply", b"[" * 100_000 + b"]" * 100_000, "the body is not JSON"),
    Webhook("a list", [1, 2], "not a JSON object"),
    Webhook("action a list", {"action": ["ANNOTATION_CREATED"]}, "'action' must be a string"),
    Webhook("action an object", {"action": {"a": 1}}, "'action' must be a string"),
    Webhook("action missing", {"annotation": {"id": 1}}, "'action' must be a string"),
    Webhook(
        "annotations a number",
        {"action": "ANNOTATIONS_CREATED", "annotations": 5, "project": PROJECT},
        "'annotations' must be a list",
    ),
    Webhook(
        "annotations of numbers",
        {"action": "ANNOTATIONS_CREATED", "annotations": [5], "project": PROJECT},
        "no annotation object with an 'id'",
    ),
    Webhook(
        "task a list",
        {"action": "ANNOTATION_CREATED", "annotation": {"id": 1}, "task": [1], "project": PROJECT},
        "task must be an integer id",
    ),
    Webhook(
        "annotation task a string",
        {"action": "ANNOTATION_CREATED", "annotation": {"id": 1, "task": "7"}, "project": PROJECT},
        "annotation task must be an integer id",
    ),
    Webhook(
        "annotation id an object",
        {
            "action": "ANNOTATION_CREATED",
            "annotation": {"id": {"a": 1}, "task": 1},
            "project": PROJECT,
        },
        "annotation id must be an integer",
    ),  # fmt: skip
    Webhook(
        "annotation id a boolean",
        {"action": "ANNOTATION_CREATED", "annotation": {"id": True, "task": 1}, "project": PROJECT},
        "annotation id must be an integer",
    ),
    Webhook(
        "annotation id too large",
        {"action": "ANNOTATION_CREATED", "annotation": {"id": BIG, "task": 1}, "project": PROJECT},
        "annotation id must be an integer from 1 to 2147483647",
    ),
    Webhook(
        "task id too large",
        {
            "action": "ANNOTATION_CREATED",
            "annotation": {"id": 1, "task": {"id": BIG}},
            "project": PROJECT,
        },
        "annotation task must be an integer id",
    ),  # fmt: skip
    Webhook(
        "project a string",
        {"action": "ANNOTATION_CREATED", "annotation": {"id": 1, "task": 1}, "project": "p"},
        "project must be an integer id",
    ),
    Webhook(
        "project missing",
        {"action": "ANNOTATION_CREATED", "annotation": {"id": 1, "task": 1}},
        "the task or project id is missing",
    ),
    Webhook(
        "no annotation",
        {"action": "ANNOTATION_CREATED", "project": PROJECT},
        "no annotation object with an 'id'",
    ),
    Webhook(
        "completed_by too large",
        {
            "action": "ANNOTATION_CREATED",
            "annotation": {"id": 1, "task": 1, "completed_by": BIG},
            "project": PROJECT,
        },
        "completed_by must be an integer id",
    ),  # fmt: skip
    Webhook(
        "NUL in a string",
        {
            "action": "ANNOTATION_CREATED",
            "annotation": {
                "id": 1,
                "task": 1,
                "result": [{"type": "textarea", "value": {"text": ["a\x00b"]}}],
            },
            "project": PROJECT,
        },
        "a string holds a NUL character",
    ),  # fmt: skip
    Webhook(
        "lone surrogate",
        b'{"action": "ANNOTATION_CREATED", "annotation": {"id": 1, "task": 1, "x": "\\ud800"}}',
        "a string holds a NUL character or a lone surrogate",
    ),
]


@pytest.mark.parametrize("case", MALFORMED_WEBHOOKS, ids=[c.name for c in MALFORMED_WEBHOOKS])
def test_a_malformed_webhook_is_a_400_with_its_reason(api, creds, case: Webhook):
    content = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
    resp = _post_json(api, "/v1/hooks/label-studio", creds[HOOK], content)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["code"] == "bad_request" and body["detail"].startswith("malformed webhook: ")
    assert case.reason in body["detail"], body
    # Without the secret the same body is a 401.
    assert _post_json(api, "/v1/hooks/label-studio", {}, content).status_code == 401


# -- memory: a real server, 300 MB chunked bodies ------------------------------------------

RSS_BOUND_BYTES = 400 * 1024 * 1024
BODY_BYTES = 300 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def _send_chunked(port: int, path: str, headers: dict[str, str], first: bytes) -> tuple[bytes, int]:
    """POST ``first`` and then spaces, up to BODY_BYTES, as a chunked body generated as it
    goes; stop at the first byte of a response. Returns (the response's start, the body bytes
    sent before it came)."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    sock.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n" if first else b"")
    chunk = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
    sent = 0
    try:
        while sent < BODY_BYTES:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                break
            assert writable, "the server neither read nor answered for 30 s"
            sock.sendall(chunk)
            sent += CHUNK
        else:
            sock.sendall(b"0\r\n\r\n")
        sock.settimeout(30)
        return sock.recv(65536), sent
    except (BrokenPipeError, ConnectionResetError):
        # Closed while we wrote: the answer came first and is still in the receive buffer.
        sock.settimeout(30)
        return sock.recv(65536), sent
    finally:
        sock.close()


@pytest.fixture(scope="module")
def kazi_serve(ctx) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:  # type: ignore[no-untyped-def]
    port = _free_port()
    log = Path(TEST_VAR) / f"bounded-api-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KAZI_MAX_UPLOAD_BYTES": str(5 * 1024 * 1024)}
    server = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "serve", "--port", str(port)],
        cwd=REPO_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"kazi serve did not start: {log.read_text()}"
            assert server.poll() is None, f"kazi serve exited: {log.read_text()}"
            time.sleep(0.2)
        yield port, server
    finally:
        server.terminate()
        server.wait(30)


HUGE = [
    ("webhook", "/v1/hooks/label-studio", HOOK, "application/json", b""),
    ("lease", "/v1/work/next", WORKER, "application/json", b""),
    ("review lease", "/v1/review/next", WORKER, "application/json", b""),
    (
        "multipart upload",
        "/v1/jobs",
        CLIENT,
        "multipart/form-data; boundary=kazi-b",
        _multipart_start("kazi-b"),
    ),
]


def test_300_mb_chunked_bodies_are_refused_early_in_bounded_memory(kazi_serve, creds):
    port, server = kazi_serve
    outcomes = []
    for name, path, cred, content_type, first in HUGE:
        for sender, expected in ((NONE, b"401"), (cred, b"413")):
            headers = {**creds[sender], "Content-Type": content_type}
            response, sent = _send_chunked(port, path, headers, first)
            outcomes.append((name, sender, response.split(b"\r\n", 1)[0], sent))
            assert response.startswith(b"HTTP/1.1 " + expected), outcomes
            # Refused within a few MB (the limit, then socket buffers), not after 300 MB.
            assert sent < 64 * 1024 * 1024, outcomes
    assert server.poll() is None
    peak = _vm_kib(server.pid, "VmHWM") * 1024  # the most the server was ever resident
    assert peak < RSS_BOUND_BYTES, (peak, outcomes)
