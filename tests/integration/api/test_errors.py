"""Every error the API sends has one body, ``{"detail", "code", "errors"?}``, and the OpenAPI
document describes that body, 422 included; a database that is down answers 503 with it."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.integration.api.conftest import client_for
from tests.media_samples import speech_wav_bytes

WAV = speech_wav_bytes()
SPEC = json.dumps({"kind": "transcription"})
ERROR_BODY_REF = "#/components/schemas/ErrorBody"


@dataclasses.dataclass
class Case:
    name: str
    method: str
    path: str
    status: int
    code: str
    message: str
    auth: bool = True  # send the client's API key
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    field_error_at: list[str | int] | None = None  # loc of an expected entry in "errors"


CASES = [
    Case("missing API key", "GET", "/v1/jobs", 401, "unauthorized", "missing API key", auth=False),
    Case(
        "revoked or unknown API key",
        "GET",
        "/v1/jobs",
        401,
        "unauthorized",
        "invalid or revoked API key",
        auth=False,
        kwargs={"headers": {"X-API-Key": "kazi_000000000000_not-a-real-key"}},
    ),
    Case(
        "missing worker key",
        "POST",
        "/v1/work/next",
        401,
        "unauthorized",
        "missing worker key",
        auth=False,
    ),
    Case("unknown job", "GET", "/v1/jobs/{unknown}", 404, "job_not_found", "{unknown} not found"),
    Case("unknown route", "GET", "/v1/no-such-route", 404, "not_found", "Not Found"),
    Case("wrong method", "DELETE", "/v1/jobs", 405, "method_not_allowed", "Method Not Allowed"),
    Case(
        "query parameter out of range",
        "GET",
        "/v1/jobs?limit=0",
        422,
        "invalid_request",
        "query.limit",
        field_error_at=["query", "limit"],
    ),
    Case(
        "request body missing fields",
        "POST",
        "/v1/jobs",
        422,
        "invalid_request",
        "sources: Field required",
        kwargs={"json": {"spec": {"kind": "transcription"}}},
        field_error_at=["sources"],
    ),
    Case(
        "job spec with an unknown field",
        "POST",
        "/v1/jobs",
        422,
        "invalid_request",
        "Extra inputs are not permitted",
        kwargs={
            "data": {"spec": json.dumps({"kind": "transcription", "overlapp": 3})},
            "files": [("files", ("a.wav", WAV, "audio/wav"))],
        },
        field_error_at=["overlapp"],
    ),
    Case(
        "empty upload",
        "POST",
        "/v1/jobs",
        422,
        "invalid_upload",
        "'a.wav' is empty",
        kwargs={"data": {"spec": SPEC}, "files": [("files", ("a.wav", b"", "audio/wav"))]},
    ),
    Case(
        "body neither multipart nor JSON",
        "POST",
        "/v1/jobs",
        415,
        "unsupported_media_type",
        "send multipart/form-data",
        kwargs={"content": b"hello", "headers": {"content-type": "text/plain"}},
    ),
    Case(
        "unsupported file type",
        "POST",
        "/v1/jobs",
        415,
        "unsupported_media_type",
        "unsupported file type '.gif'",
        kwargs={
            "data": {"spec": SPEC},
            "files": [("files", ("a.gif", b"GIF89a" + b"\0" * 64, "image/gif"))],
        },
    ),
]


def _document(api: TestClient) -> dict[str, Any]:
    resp = api.get("/openapi.json")
    assert resp.status_code == 200
    document: dict[str, Any] = resp.json()
    return document


def _validate(document: dict[str, Any], schema: dict[str, Any], body: Any) -> None:
    """Validate ``body`` against a schema of the OpenAPI document (3.1: JSON Schema 2020-12),
    its ``$ref``s resolved in the document's components."""
    root = {**schema, "components": document["components"]}
    jsonschema.Draft202012Validator(root).validate(body)


def _documented_schema(document: dict[str, Any], path: str, method: str, status: str) -> Any:
    responses = document["paths"][path][method.lower()]["responses"]
    return responses[status]["content"]["application/json"]["schema"]


def _request(api: TestClient, case: Case, auth: dict[str, str]):  # type: ignore[no-untyped-def]
    unknown = uuid.uuid4().hex
    kwargs = dict(case.kwargs)
    headers = {**(auth if case.auth else {}), **kwargs.pop("headers", {})}
    path = case.path.format(unknown=unknown)
    resp = api.request(case.method, path, headers=headers, **kwargs)
    return resp, case.message.format(unknown=unknown)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_error_has_the_one_documented_body(api, client_auth, case: Case):
    _, auth = client_auth
    resp, message = _request(api, case, auth)
    assert resp.status_code == case.status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["code"] == case.code
    assert isinstance(body["detail"], str) and message in body["detail"], body
    assert set(body) <= {"detail", "code", "errors"}
    _validate(_document(api), {"$ref": ERROR_BODY_REF}, body)
    if case.field_error_at is None:
        assert "errors" not in body
    else:
        locs = [e["loc"] for e in body["errors"]]
        assert any(loc[-len(case.field_error_at) :] == case.field_error_at for loc in locs), locs
    if case.status == 401:
        assert resp.headers["www-authenticate"] == "Bearer"


def test_upload_over_the_limit_has_the_error_body(ctx, client_auth):
    _, auth = client_auth
    small = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"max_upload_bytes": 50_000})
    )
    big = WAV * (1 + 60_000 // len(WAV))
    with client_for(small) as api:
        document = _document(api)
        # Declared length far over the limit: refused before the body is read.
        declared = api.post(
            "/v1/jobs",
            headers=auth,
            data={"spec": SPEC},
            files=[("files", ("big.wav", big * 30, "audio/wav"))],
        )
        # Just over (inside the multipart allowance): refused while the file streams in.
        streamed = api.post(
            "/v1/jobs", headers=auth, data={"spec": SPEC}, files=[("files", ("big.wav", big))]
        )
    for resp, code in ((declared, "request_too_large"), (streamed, "upload_too_large")):
        assert resp.status_code == 413, resp.text
        body = resp.json()
        assert "larger than the limit" in body["detail"]
        assert body["code"] == code, body
        _validate(document, {"$ref": ERROR_BODY_REF}, body)


def test_the_documented_422_is_the_body_sent(api, client_auth):
    _, auth = client_auth
    document = _document(api)
    schema = _documented_schema(document, "/v1/jobs", "GET", "422")
    assert schema == {"$ref": ERROR_BODY_REF}
    body = api.get("/v1/jobs?limit=0&offset=-1", headers=auth).json()
    _validate(document, schema, body)
    assert [e["loc"] for e in body["errors"]] == [["query", "limit"], ["query", "offset"]]
    # FastAPI's own list-shaped 422 body is documented nowhere.
    assert "HTTPValidationError" not in json.dumps(document)


def test_every_documented_error_response_is_the_error_body(api):
    document = _document(api)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status[0] not in "45" or (path, status) == ("/health/ready", "503"):
                    continue  # readiness documents its 503 with the checks (test_health.py)
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_BODY_REF}, (method, path, status)


def test_an_unexpected_exception_is_a_json_500_that_tells_nothing(ctx):
    with client_for(ctx) as api:
        app = api.app

        def broken() -> None:
            raise RuntimeError("secret internals")

        app.add_api_route("/v1/broken", broken)  # type: ignore[attr-defined]
        resp = api.get("/v1/broken")
    assert resp.status_code == 500
    assert resp.json() == {"detail": "internal server error", "code": "internal_error"}


def test_a_failing_statement_is_a_500_not_a_503(ctx):
    with client_for(ctx) as api:

        def bad_sql() -> None:
            with ctx.sessions() as session:
                session.execute(text("SELECT * FROM no_such_table"))

        api.app.add_api_route("/v1/bad-sql", bad_sql)  # type: ignore[attr-defined]
        resp = api.get("/v1/bad-sql")
    assert resp.status_code == 500
    assert resp.json()["code"] == "internal_error"
    assert "retry-after" not in resp.headers


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/v1/jobs", {"X-API-Key": "kazi_000000000000_any"}),
        ("POST", "/v1/work/next", {"Authorization": "Bearer kazw_000000000000_any"}),
    ],
    ids=["client route", "worker route (thread-pool unit of work)"],
)
def test_database_down_is_503_with_retry_after_and_the_error_body(
    api_without_database, method, path, headers
):
    resp = api_without_database.request(method, path, headers=headers)
    assert resp.status_code == 503, resp.text
    assert int(resp.headers["retry-after"]) > 0
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["code"] == "database_unavailable"
    _validate(_document(api_without_database), {"$ref": ERROR_BODY_REF}, body)


def test_a_deadlock_is_a_503_to_send_again_not_a_500(ctx):
    """PostgreSQL breaks a real deadlock by aborting one transaction: that request gets 503
    ``transaction_conflict`` with Retry-After (the same request again succeeds), never a 500."""
    import threading

    a_holds = threading.Event()
    b_holds = threading.Event()
    key = uuid.uuid4().int % 2**40

    def other_side() -> None:
        with ctx.sessions() as session:
            session.execute(text("SET LOCAL deadlock_timeout = '10s'"))  # the route loses
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key + 1})
            b_holds.set()
            a_holds.wait(10)
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            session.rollback()

    with client_for(ctx) as api:

        def deadlocking() -> None:
            with ctx.sessions() as session:
                session.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                a_holds.set()
                b_holds.wait(10)
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key + 1})

        api.app.add_api_route("/v1/deadlock", deadlocking)  # type: ignore[attr-defined]
        other = threading.Thread(target=other_side)
        other.start()
        resp = api.get("/v1/deadlock")
        other.join(20)
    assert resp.status_code == 503, resp.text
    assert resp.json()["code"] == "transaction_conflict"
    assert resp.headers["retry-after"] == "1"
