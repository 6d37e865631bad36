"""The authorization matrix: every operation of the OpenAPI document, called with every kind of
credential, answers the status the table below says, and the table agrees with the routes'
declared callers (engine/api/access.py).

Rows are operations, columns credentials. ``link`` is a valid signed link for the object the
row's request names (a media link for that key and method, a start link for that worker);
``other_link`` is a valid signed link for another object (another key, another worker); on the
other rows both send a valid media link's query, which grants nothing there. ``wrong`` sends
made-up keys, secret and signature. Client B asks for client A's job: it must look missing.

``staff`` is a staff key made the way ``kazi staff add`` makes one. ``cb`` is a provider's
credential: the result URL the engine gave the provider for a real payout (its path holds the
token); on the other rows the provider sends that token as a bearer key, which grants nothing.
On the callback rows ``wrong`` sends a token with a made-up HMAC, every other column the bare
payout id (no HMAC): each sends the result body the provider would, so a 401 there means the
body was not applied.

``session`` is a worker logged in to the worker app with a one-time code: the ``kazi_app``
cookie and the session's ``X-CSRF-Token`` header (what the app's pages send); a row that ends
its session (logout) gets a session of its own. Redirects of the ``/app`` rows are not
followed: they are the answer.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.api.access import ROUTE_CALLERS, Caller, Operation, UndeclaredAccess, operations
from tests.conftest import make_client, wait_for_stage
from tests.integration.payouts.conftest import random_msisdn
from tests.integration.security.payout_callers import (
    PaidOut,
    forged_token,
    paid_out,
    staff_auth,
    token_of,
)
from tests.integration.work.conftest import publish_image_job
from tests.media_samples import png_bytes


class Cred(StrEnum):
    NONE = "none"
    WRONG = "wrong"
    CLIENT_A = "client_a"
    CLIENT_B = "client_b"
    TRAINEE = "trainee"
    QUALIFIED = "qualified"
    REVIEWER = "reviewer"
    WEBHOOK = "webhook"
    LINK = "link"
    OTHER_LINK = "other_link"
    STAFF = "staff"
    CALLBACK = "callback"
    SESSION = "session"


# The expected status of each (operation, credential); the columns are Cred's, in order.
# 422 on a link route: no link was sent (its expires/signature are required parameters).
# ``lgn`` on a worker-app page: the refusal a browser gets, 303 to /app/login?next=... (a JSON
# caller gets 401 there); a plain 303 is the route's own redirect (the login's, to /app).
MATRIX = """
                                                non wrg cla clb trn qul rvw hok lnk oth stf cb ses
GET     /health                                 200 200 200 200 200 200 200 200 200 200 200 200 200
GET     /health/live                            200 200 200 200 200 200 200 200 200 200 200 200 200
GET     /health/ready                           200 200 200 200 200 200 200 200 200 200 200 200 200
POST    /v1/jobs                                401 401 201 201 401 401 401 401 401 401 401 401 401
GET     /v1/jobs                                401 401 200 200 401 401 401 401 401 401 401 401 401
GET     /v1/jobs/{job_id}                       401 401 200 404 401 401 401 401 401 401 401 401 401
GET     /v1/jobs/{job_id}/tasks                 401 401 200 404 401 401 401 401 401 401 401 401 401
GET     /v1/jobs/{job_id}/deliverables          401 401 200 404 401 401 401 401 401 401 401 401 401
POST    /v1/jobs/quote                          401 401 200 200 401 401 401 401 401 401 401 401 401
POST    /v1/uploads                             401 401 201 201 401 401 401 401 401 401 401 401 401
GET     /v1/callback-secret                     401 401 200 200 401 401 401 401 401 401 401 401 401
GET     /v1/media/{key}                         422 403 422 422 422 422 422 422 200 403 422 422 422
HEAD    /v1/media/{key}                         422 403 422 422 422 422 422 422 200 403 422 422 422
PUT     /v1/media/{key}                         422 403 422 422 422 422 422 422 200 403 422 422 422
OPTIONS /v1/media/{key}                         204 204 204 204 204 204 204 204 204 204 204 204 204
POST    /v1/work/next                           401 401 401 401 200 200 200 401 401 401 401 401 401
POST    /v1/work/{lease_id}/submit              401 401 401 401 404 201 404 401 401 401 401 401 401
POST    /v1/work/{lease_id}/release             401 401 401 401 404 200 404 401 401 401 401 401 401
GET     /v1/work/feedback                       401 401 401 401 200 200 200 401 401 401 401 401 401
GET     /v1/work/label-studio/start             422 403 422 422 422 422 422 422 200 403 422 422 422
POST    /v1/review/next                         401 401 401 401 403 403 200 401 401 401 401 401 401
POST    /v1/review/{lease_id}/submit            401 401 401 401 404 404 201 401 401 401 401 401 401
POST    /v1/hooks/label-studio                  401 401 401 401 401 401 401 200 401 401 401 401 401
GET     /v1/work/earnings                       401 401 401 401 200 200 200 401 401 401 401 401 401
POST    /v1/work/answers/{answer_id}/dispute    401 401 401 401 404 404 404 401 401 401 401 401 401
GET     /v1/review/disputes                     401 401 401 401 403 403 200 401 401 401 401 401 401
POST    /v1/review/disputes/{dispute_id}/decide 401 401 401 401 403 403 404 401 401 401 401 401 401
GET     /v1/work/statements/{month}             401 401 401 401 200 200 200 401 401 401 401 401 401
POST    /v1/statements/verify                   200 200 200 200 200 200 200 200 200 200 200 200 200
PUT     /v1/work/payout-method                  401 401 401 401 200 200 200 401 401 401 401 401 401
GET     /v1/work/payout-method                  401 401 401 401 200 200 200 401 401 401 401 401 401
POST    /v1/work/payout-method/confirm          401 401 401 401 200 200 200 401 401 401 401 401 401
POST    /v1/staff/payouts/runs                  401 401 401 401 401 401 401 401 401 401 201 401 401
GET     /v1/staff/payouts/runs/{batch_id}       401 401 401 401 401 401 401 401 401 401 200 401 401
POST    /v1/hooks/mpesa/result/{token}          401 401 401 401 401 401 401 401 401 401 401 200 401
POST    /v1/hooks/mpesa/timeout/{token}         401 401 401 401 401 401 401 401 401 401 401 200 401
POST    /v1/hooks/momo/{token}                  401 401 401 401 401 401 401 401 401 401 401 200 401
PUT     /v1/hooks/momo/{token}                  401 401 401 401 401 401 401 401 401 401 401 200 401
GET     /app/login                              200 200 200 200 200 200 200 200 200 200 200 200 303
GET     /app/login/{code}                       200 200 200 200 200 200 200 200 200 200 200 200 200
POST    /app/login                              303 303 303 303 303 303 303 303 303 303 303 303 303
POST    /app/logout                             lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 303
POST    /app/language                           lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 303
GET     /app                                    lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 200
GET     /app/feedback                           lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 200
GET     /app/earnings                           lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 200
GET     /app/statements                         lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 200
GET     /app/statements/{month}                 lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 200
GET     /app/training                           lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 200
GET     /app/training/next                      lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 303
POST    /app/training/{item_id}/answer          lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 409
GET     /app/task                               lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 200
POST    /app/task/{lease_id}/submit             lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 404
POST    /app/task/{lease_id}/heartbeat          lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 404
POST    /app/task/{lease_id}/skip               lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 404
GET     /app/task/done                          lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn 200
GET     /app/sw.js                              200 200 200 200 200 200 200 200 200 200 200 200 200
"""


LOGIN_REDIRECT = "lgn"


def _parse(matrix: str) -> dict[Operation, dict[Cred, int]]:
    rows = [line.split() for line in matrix.strip().splitlines()[1:]]
    return {
        Operation(method, path): {
            cred: 303 if code == LOGIN_REDIRECT else int(code)
            for cred, code in zip(Cred, codes, strict=True)
        }
        for method, path, *codes in rows
    }


def _login_redirects(matrix: str) -> set[tuple[Operation, Cred]]:
    rows = [line.split() for line in matrix.strip().splitlines()[1:]]
    return {
        (Operation(method, path), cred)
        for method, path, *codes in rows
        for cred, code in zip(Cred, codes, strict=True)
        if code == LOGIN_REDIRECT
    }


EXPECTED = _parse(MATRIX)
# The cells where a worker-app page refuses a browser by sending it to the login.
LOGIN_REDIRECTS = _login_redirects(MATRIX)

# The credentials each declared caller accepts.
ACCEPTED: dict[Caller, set[Cred]] = {
    Caller.PUBLIC: set(Cred),
    Caller.CLIENT: {Cred.CLIENT_A, Cred.CLIENT_B},
    Caller.WORKER: {Cred.TRAINEE, Cred.QUALIFIED, Cred.REVIEWER},
    Caller.REVIEWER: {Cred.REVIEWER},
    Caller.LABEL_STUDIO_WEBHOOK: {Cred.WEBHOOK},
    Caller.SIGNED_LINK: {Cred.LINK},
    Caller.STAFF: {Cred.STAFF},
    Caller.PROVIDER_CALLBACK: {Cred.CALLBACK},
    Caller.WORKER_SESSION: {Cred.SESSION},
}
REFUSED = {401, 403}
GARBAGE_SIGNATURE = "0" * 64
WORKER_CREDS = {Cred.TRAINEE: "trainee", Cred.QUALIFIED: "qualified", Cred.REVIEWER: "reviewer"}


def _app(operation: Operation) -> bool:
    """A worker-app row: its redirects are part of the answer (not followed)."""
    return operation.path == "/app" or operation.path.startswith("/app/")


def _refused(operation: Operation, cred: Cred, status: int) -> bool:
    return status in REFUSED or (operation, cred) in LOGIN_REDIRECTS


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _path(url: str) -> str:
    return urlsplit(url).path


def _register(ctx: Any, tier: str) -> tuple[str, dict[str, str]]:
    from engine.workforce.service import register_worker

    worker = ctx.in_unit_of_work(register_worker, f"sec-{uuid.uuid4().hex[:10]}", tier)
    return worker.id, {"Authorization": f"Bearer {worker.api_key}"}


def _answer_all(api: TestClient, auth: dict[str, str], job_id: str, label: str) -> list[str]:
    """Answer every task of the job this worker may take; the lease ids it answered."""
    leases = []
    while (
        resp := api.post("/v1/work/next", headers=auth, json={"job_id": job_id})
    ).status_code == 200:
        lease_id = resp.json()["lease_id"]
        body = {"client_answer_id": str(uuid.uuid4()), "answer": {"label": label}}
        answered = api.post(f"/v1/work/{lease_id}/submit", headers=auth, json=body)
        assert answered.status_code == 201, answered.text
        leases.append(lease_id)
    assert resp.status_code == 204, resp.text
    return leases


REVIEW_LABELS = ["cat", "dog", "bird", "fish"]


@dataclass(frozen=True)
class ReviewJob:
    job_id: str
    trainee: dict[str, str]  # the trainee who answered every task
    trainee_leases: list[str]  # the trainee's answer leases


def review_job(api: TestClient, ctx: Any, auth: dict[str, str], worker: Any, n: int) -> ReviewJob:
    """A job whose every result waits for review: three workers give three different labels
    (no label has the agreement that skips review)."""
    job_id = publish_image_job(api, ctx, auth, worker, n, overlap=3, labels=REVIEW_LABELS)
    answered = {}
    for tier, label in (("qualified", "cat"), ("qualified", "dog"), ("trainee", "bird")):
        _, worker_auth = _register(ctx, tier)
        leases = _answer_all(api, worker_auth, job_id, label)
        assert len(leases) == n
        answered[tier] = (worker_auth, leases)
    assert (
        wait_for_stage(ctx, job_id, {"reviewing", "assembling", "failed"}, 180, worker)
        == "reviewing"
    )
    trainee, trainee_leases = answered["trainee"]
    return ReviewJob(job_id, trainee, trainee_leases)


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Sent instead of the credential's headers (a row that needs its own session: logout).
    headers: dict[str, str] | None = None


@dataclass
class World:
    """Two clients, three workers (one per tier), A's open job, A's job in review, links."""

    api: TestClient
    ctx: Any
    headers: dict[Cred, dict[str, str]]
    open_job: str
    review_job: str
    media_key: str
    media_query: dict[str, str]  # a GET link for media_key
    other_media_query: dict[str, str]  # a GET link for another object
    upload_key: str
    upload_query: dict[str, str]  # a PUT link for upload_key
    other_upload_query: dict[str, str]  # a PUT link for another client's upload
    start_worker: str
    start_query: dict[str, str]  # the start link of start_worker
    other_start_query: dict[str, str]  # start_worker's id with another worker's signature
    worker_ids: dict[Cred, str]
    paid: PaidOut  # an M-Pesa and a MoMo payout waiting for their results
    statement: dict[str, Any]  # a worker's signed statement
    app_handle: str  # the worker logged in to the app (the ``session`` column)
    app_csrf: str  # that session's CSRF token (sent as X-CSRF-Token by the session column)
    sending: Cred = Cred.NONE  # the credential of the request being built
    _review_lease: str | None = None

    def lease_of(self, cred: Cred) -> str:
        """The worker's live lease on the open job (asking again returns the one it holds)."""
        resp = self.api.post(
            "/v1/work/next", headers=self.headers[cred], json={"job_id": self.open_job}
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["lease_id"])

    def review_lease(self) -> str:
        """One review lease of the reviewer, taken once (each call of review/next takes one)."""
        if self._review_lease is None:
            resp = self.api.post(
                "/v1/review/next",
                headers=self.headers[Cred.REVIEWER],
                json={"job_id": self.review_job},
            )
            assert resp.status_code == 200, resp.text
            self._review_lease = str(resp.json()["lease_id"])
        return self._review_lease

    def link_query(self, operation: Operation, cred: Cred) -> dict[str, str]:
        """The query a link credential adds to the row's request."""
        start = operation.path == "/v1/work/label-studio/start"
        if cred is Cred.WRONG:
            if start:
                return {"worker": self.start_worker, "signature": GARBAGE_SIGNATURE}
            return {"expires": str(int(time.time()) + 3600), "signature": GARBAGE_SIGNATURE}
        if start:
            links = {Cred.LINK: self.start_query, Cred.OTHER_LINK: self.other_start_query}
        elif operation == Operation("PUT", "/v1/media/{key}"):
            links = {Cred.LINK: self.upload_query, Cred.OTHER_LINK: self.other_upload_query}
        else:  # the media rows; elsewhere a media link is sent where it grants nothing
            links = {Cred.LINK: self.media_query, Cred.OTHER_LINK: self.other_media_query}
        return links.get(cred, {})

    def hook_path(self, path: str, cred: Cred) -> str:
        """A callback row's path for the credential: the engine's token only for ``cb``."""
        token = token_of(path)
        payout_id = token.partition(".")[0]
        held = {Cred.CALLBACK: token, Cred.WRONG: forged_token(payout_id)}
        return path.removesuffix(token) + held.get(cred, payout_id)

    def login_code(self) -> str:
        """A fresh one-time code of the app's worker (each use spends one)."""
        from engine.worker_app.sessions import issue_login_code

        code, _ = self.ctx.in_unit_of_work(issue_login_code, self.app_handle)
        return str(code)

    def own_session(self) -> dict[str, str] | None:
        """For the session column, a session of its own (the row ends it); else None."""
        if self.sending is not Cred.SESSION:
            return None
        return app_session_headers(self.api, self.ctx, self.login_code())[0]

    def confirmation_code(self) -> str:
        """The sending worker's pending code (any other caller sends a well-formed one)."""
        from engine.payouts.service import pending_code

        worker_id = self.worker_ids.get(self.sending)
        if worker_id is None:
            return "123456"
        with self.ctx.uow() as uow:
            code = pending_code(uow, worker_id, self.ctx.token_cipher)
        assert code is not None, f"{self.sending} has no pending code"
        return str(code)


def app_session_headers(api: TestClient, ctx: Any, code: str) -> tuple[dict[str, str], str]:
    """Log in to the worker app with a code: the session's request headers (its cookie and
    CSRF token) and the CSRF token."""
    from engine.worker_app.auth import SESSION_COOKIE
    from engine.worker_app.sessions import session_for_token

    resp = api.post("/app/login", data={"code": code}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    api.cookies.clear()
    jar: SimpleCookie = SimpleCookie()
    for header in resp.headers.get_list("set-cookie"):
        jar.load(header)
    token = jar[SESSION_COOKIE].value
    session = ctx.in_unit_of_work(session_for_token, token)
    assert session is not None
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": session.csrf_token}
    return cookie, session.csrf_token


def _new_job_call(_: World) -> Call:
    spec = {"kind": "image_classification", "labels": ["cat", "dog"], "gold_ratio": 0.0}
    files = [("files", ("one.png", png_bytes(33, 21, (10, 200, 30)), "image/png"))]
    return Call("POST", "/v1/jobs", kwargs={"data": {"spec": json.dumps(spec)}, "files": files})


def _submit_answer(w: World) -> Call:
    body = {"client_answer_id": str(uuid.uuid4()), "answer": {"label": "cat"}}
    return Call("POST", f"/v1/work/{w.lease_of(Cred.QUALIFIED)}/submit", kwargs={"json": body})


def _submit_review(w: World) -> Call:
    body = {"client_review_id": str(uuid.uuid4()), "decision": "accept"}
    return Call("POST", f"/v1/review/{w.review_lease()}/submit", kwargs={"json": body})


def _last_month() -> str:
    first = time.gmtime(time.time() - time.gmtime().tm_mday * 86400)
    return f"{first.tm_year:04d}-{first.tm_mon:02d}"


def _quote_call(_: World) -> Call:
    spec = {
        "kind": "image_classification",
        "labels": ["cat", "dog"],
        "gold_ratio": 0.0,
        "pay_rate": {"amount": "10.00", "currency": "KES"},
    }
    body = {"spec": spec, "media": [{"filename": "one.png", "width": 64, "height": 48}]}
    return Call("POST", "/v1/jobs/quote", kwargs={"json": body})


def _payout_method(_: World) -> dict[str, str]:
    return {"provider": "mpesa", "msisdn": random_msisdn(), "account_name": "Matrix Worker"}


# The request each row sends (the credential is added to it).
REQUESTS: dict[Operation, Callable[[World], Call]] = {
    Operation("GET", "/health"): lambda w: Call("GET", "/health"),
    Operation("GET", "/health/live"): lambda w: Call("GET", "/health/live"),
    Operation("GET", "/health/ready"): lambda w: Call("GET", "/health/ready"),
    Operation("POST", "/v1/jobs"): _new_job_call,
    Operation("GET", "/v1/jobs"): lambda w: Call("GET", "/v1/jobs", {"limit": "200"}),
    Operation("GET", "/v1/jobs/{job_id}"): lambda w: Call("GET", f"/v1/jobs/{w.open_job}"),
    Operation("GET", "/v1/jobs/{job_id}/tasks"): lambda w: Call(
        "GET", f"/v1/jobs/{w.open_job}/tasks"
    ),
    Operation("GET", "/v1/jobs/{job_id}/deliverables"): lambda w: Call(
        "GET", f"/v1/jobs/{w.open_job}/deliverables"
    ),
    Operation("POST", "/v1/uploads"): lambda w: Call("POST", "/v1/uploads"),
    Operation("GET", "/v1/callback-secret"): lambda w: Call("GET", "/v1/callback-secret"),
    Operation("GET", "/v1/media/{key}"): lambda w: Call("GET", f"/v1/media/{w.media_key}"),
    Operation("HEAD", "/v1/media/{key}"): lambda w: Call("HEAD", f"/v1/media/{w.media_key}"),
    Operation("PUT", "/v1/media/{key}"): lambda w: Call(
        "PUT", f"/v1/media/{w.upload_key}", kwargs={"content": b"uploaded by the matrix"}
    ),
    Operation("OPTIONS", "/v1/media/{key}"): lambda w: Call("OPTIONS", f"/v1/media/{w.media_key}"),
    Operation("POST", "/v1/work/next"): lambda w: Call(
        "POST", "/v1/work/next", kwargs={"json": {"job_id": w.open_job}}
    ),
    Operation("POST", "/v1/work/{lease_id}/submit"): _submit_answer,
    Operation("POST", "/v1/work/{lease_id}/release"): lambda w: Call(
        "POST", f"/v1/work/{w.lease_of(Cred.QUALIFIED)}/release"
    ),
    Operation("GET", "/v1/work/feedback"): lambda w: Call("GET", "/v1/work/feedback"),
    Operation("GET", "/v1/work/label-studio/start"): lambda w: Call(
        "GET", "/v1/work/label-studio/start", {"job_id": w.open_job}
    ),
    Operation("POST", "/v1/review/next"): lambda w: Call(
        "POST", "/v1/review/next", kwargs={"json": {"job_id": w.review_job}}
    ),
    Operation("POST", "/v1/review/{lease_id}/submit"): _submit_review,
    Operation("POST", "/v1/hooks/label-studio"): lambda w: Call(
        "POST", "/v1/hooks/label-studio", kwargs={"json": {"action": "PROJECT_CREATED"}}
    ),
    Operation("GET", "/v1/work/earnings"): lambda w: Call("GET", "/v1/work/earnings"),
    # No such answer or dispute: a worker learns only that it is not theirs (404).
    Operation("POST", "/v1/work/answers/{answer_id}/dispute"): lambda w: Call(
        "POST", f"/v1/work/answers/{2**31 - 1}/dispute", kwargs={"json": {"reason": "x"}}
    ),
    Operation("GET", "/v1/review/disputes"): lambda w: Call("GET", "/v1/review/disputes"),
    Operation("POST", "/v1/review/disputes/{dispute_id}/decide"): lambda w: Call(
        "POST", f"/v1/review/disputes/{2**31 - 1}/decide", kwargs={"json": {"decision": "uphold"}}
    ),
    Operation("POST", "/v1/jobs/quote"): _quote_call,
    Operation("GET", "/v1/work/statements/{month}"): lambda w: Call(
        "GET", f"/v1/work/statements/{_last_month()}"
    ),
    Operation("POST", "/v1/statements/verify"): lambda w: Call(
        "POST", "/v1/statements/verify", kwargs={"json": w.statement}
    ),
    Operation("PUT", "/v1/work/payout-method"): lambda w: Call(
        "PUT", "/v1/work/payout-method", kwargs={"json": _payout_method(w)}
    ),
    Operation("GET", "/v1/work/payout-method"): lambda w: Call("GET", "/v1/work/payout-method"),
    # The sending worker's own code: the method of each worker is confirmed.
    Operation("POST", "/v1/work/payout-method/confirm"): lambda w: Call(
        "POST", "/v1/work/payout-method/confirm", kwargs={"json": {"code": w.confirmation_code()}}
    ),
    # A currency nobody here is owed: a batch with nothing to pay, no provider called.
    Operation("POST", "/v1/staff/payouts/runs"): lambda w: Call(
        "POST", "/v1/staff/payouts/runs", kwargs={"json": {"currency": "TZS"}}
    ),
    Operation("GET", "/v1/staff/payouts/runs/{batch_id}"): lambda w: Call(
        "GET", f"/v1/staff/payouts/runs/{w.paid.mpesa_batch}"
    ),
    # The results the fake providers queued, to the URLs the engine gave them: the first
    # applies, a repeat is a duplicate, a timeout leaves the payout as it is (all 200).
    Operation("POST", "/v1/hooks/mpesa/result/{token}"): lambda w: Call(
        "POST", w.paid.mpesa.result_path, kwargs={"json": w.paid.mpesa.result_body}
    ),
    Operation("POST", "/v1/hooks/mpesa/timeout/{token}"): lambda w: Call(
        "POST", w.paid.mpesa.timeout_path, kwargs={"json": w.paid.mpesa.result_body}
    ),
    Operation("POST", "/v1/hooks/momo/{token}"): lambda w: Call(
        "POST", w.paid.momo.result_path, kwargs={"json": w.paid.momo.result_body}
    ),
    Operation("PUT", "/v1/hooks/momo/{token}"): lambda w: Call(
        "PUT", w.paid.momo.result_path, kwargs={"json": w.paid.momo.result_body}
    ),
    # The worker app. The session column sends the cookie and the session's CSRF header.
    Operation("GET", "/app/login"): lambda w: Call("GET", "/app/login"),
    Operation("GET", "/app/login/{code}"): lambda w: Call("GET", f"/app/login/{w.login_code()}"),
    Operation("POST", "/app/login"): lambda w: Call(
        "POST", "/app/login", kwargs={"data": {"code": w.login_code()}}
    ),
    Operation("POST", "/app/logout"): lambda w: Call(
        "POST", "/app/logout", kwargs={"data": {"csrf_token": w.app_csrf}}, headers=w.own_session()
    ),
    Operation("POST", "/app/language"): lambda w: Call(
        "POST", "/app/language", kwargs={"data": {"csrf_token": w.app_csrf, "locale": "en"}}
    ),
    Operation("GET", "/app"): lambda w: Call("GET", "/app"),
    Operation("GET", "/app/feedback"): lambda w: Call("GET", "/app/feedback"),
    Operation("GET", "/app/earnings"): lambda w: Call("GET", "/app/earnings"),
    Operation("GET", "/app/statements"): lambda w: Call("GET", "/app/statements"),
    Operation("GET", "/app/statements/{month}"): lambda w: Call(
        "GET", f"/app/statements/{_last_month()}"
    ),
    # Training: the session's worker has no training record (the answer is a 409 there).
    Operation("GET", "/app/training"): lambda w: Call("GET", "/app/training"),
    Operation("GET", "/app/training/next"): lambda w: Call("GET", "/app/training/next"),
    Operation("POST", "/app/training/{item_id}/answer"): lambda w: Call(
        "POST",
        "/app/training/1/answer",
        kwargs={"data": {"csrf_token": w.app_csrf, "client_id": "matrix-training-1", "text": "x"}},
    ),
    # Task pages: the lease rows name the qualified worker's lease (another worker's: 404).
    Operation("GET", "/app/task"): lambda w: Call("GET", "/app/task"),
    Operation("POST", "/app/task/{lease_id}/submit"): lambda w: Call(
        "POST",
        f"/app/task/{w.lease_of(Cred.QUALIFIED)}/submit",
        kwargs={"data": {"csrf_token": w.app_csrf, "text": "from the matrix"}},
    ),
    Operation("POST", "/app/task/{lease_id}/heartbeat"): lambda w: Call(
        "POST",
        f"/app/task/{w.lease_of(Cred.QUALIFIED)}/heartbeat",
        kwargs={"data": {"csrf_token": w.app_csrf}},
    ),
    Operation("POST", "/app/task/{lease_id}/skip"): lambda w: Call(
        "POST",
        f"/app/task/{w.lease_of(Cred.QUALIFIED)}/skip",
        kwargs={"data": {"csrf_token": w.app_csrf}},
    ),
    Operation("GET", "/app/task/done"): lambda w: Call("GET", "/app/task/done"),
    Operation("GET", "/app/sw.js"): lambda w: Call("GET", "/app/sw.js"),
}
HOOK_ROWS = {o for o, caller in ROUTE_CALLERS.items() if caller is Caller.PROVIDER_CALLBACK}


@pytest.fixture(scope="module")
def security_api(ctx: Any) -> Iterator[TestClient]:
    from engine.api.app import create_app

    # A 500 is a matrix cell like any other, not an exception in the test.
    with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def world(security_api: TestClient, ctx: Any, celery_worker_process: Any) -> World:
    from engine.work.start_links import start_link
    from engine.worker_app.sessions import issue_login_code
    from engine.workforce.service import register_worker

    api = security_api
    _, client_a = make_client(ctx)
    _, client_b = make_client(ctx)
    workers = {cred: _register(ctx, tier) for cred, tier in WORKER_CREDS.items()}
    open_job = publish_image_job(api, ctx, client_a, celery_worker_process, 6, overlap=3)
    in_review = review_job(api, ctx, client_a, celery_worker_process, 3)

    tasks = api.get(f"/v1/jobs/{open_job}/tasks", headers=client_a).json()["items"]
    first, second = tasks[0]["media_url"], tasks[1]["media_url"]
    upload = api.post("/v1/uploads", headers=client_a).json()
    other_upload = api.post("/v1/uploads", headers=client_b).json()
    start_worker, _ = _register(ctx, "qualified")
    secret = ctx.settings.signing_secret
    base = ctx.settings.public_url
    other_start = _query(start_link(base, workers[Cred.TRAINEE][0], secret))
    for _, auth in workers.values():  # a pending method each (the confirm row confirms it)
        body = {"provider": "mpesa", "msisdn": random_msisdn(), "account_name": "Matrix"}
        assert api.put("/v1/work/payout-method", headers=auth, json=body).status_code == 200
    statement = api.get(
        f"/v1/work/statements/{_last_month()}", headers=workers[Cred.TRAINEE][1]
    ).json()
    paid = paid_out(ctx)
    app_handle = f"app-{uuid.uuid4().hex[:10]}"  # a worker logged in to the app
    ctx.in_unit_of_work(register_worker, app_handle, "trainee")
    app_code, _ = ctx.in_unit_of_work(issue_login_code, app_handle)
    app_headers, app_csrf = app_session_headers(api, ctx, app_code)
    return World(
        api=api,
        ctx=ctx,
        headers={
            Cred.NONE: {},
            Cred.WRONG: {
                "Authorization": "Bearer kazw_0123456789ab_not-a-real-key",
                "X-API-Key": "kazi_not-a-real-key",
                "X-Kazi-Webhook-Secret": "not-the-secret",
            },
            Cred.CLIENT_A: client_a,
            Cred.CLIENT_B: client_b,
            **{cred: auth for cred, (_, auth) in workers.items()},
            Cred.WEBHOOK: {"X-Kazi-Webhook-Secret": ctx.settings.webhook_secret},
            Cred.LINK: {},
            Cred.OTHER_LINK: {},
            Cred.STAFF: staff_auth(ctx),
            Cred.CALLBACK: {"Authorization": f"Bearer {token_of(paid.momo.result_path)}"},
            Cred.SESSION: app_headers,
        },
        open_job=open_job,
        review_job=in_review.job_id,
        media_key=_path(first).removeprefix("/v1/media/"),
        media_query=_query(first),
        other_media_query=_query(second),
        upload_key=upload["key"],
        upload_query=_query(upload["url"]),
        other_upload_query=_query(other_upload["url"]),
        start_worker=start_worker,
        start_query=_query(start_link(base, start_worker, secret)),
        other_start_query={"worker": start_worker, "signature": other_start["signature"]},
        worker_ids={cred: worker_id for cred, (worker_id, _) in workers.items()},
        paid=paid,
        statement=statement,
        app_handle=app_handle,
        app_csrf=app_csrf,
    )


def test_every_documented_operation_has_a_row(security_api: TestClient) -> None:
    documented = set(operations(security_api.get("/openapi.json").json()))
    missing = sorted(documented - EXPECTED.keys())
    assert not missing, f"operations without a row in the authorization matrix: {missing}"
    assert not sorted(EXPECTED.keys() - documented), "matrix rows for operations not served"
    assert EXPECTED.keys() == REQUESTS.keys()


def test_the_matrix_agrees_with_the_declared_callers() -> None:
    """A credential the row's caller accepts is never refused; any other is never served."""
    wrong = []
    for operation, row in EXPECTED.items():
        accepted = ACCEPTED[ROUTE_CALLERS[operation]]
        for cred, status in row.items():
            refused = _refused(operation, cred, status)
            served = status < 400 and not refused
            if (cred in accepted and refused) or (cred not in accepted and served):
                wrong.append(f"{operation.method} {operation.path} {cred}: {status}")
    assert not wrong, wrong


def test_the_document_publishes_each_operations_callers(security_api: TestClient) -> None:
    document = security_api.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["clientKeyHeader"] == {
        **schemes["clientKeyHeader"],
        "in": "header",
        "name": "X-API-Key",
    }
    assert schemes["workerKey"]["scheme"] == "bearer"
    assert schemes["labelStudioWebhook"]["name"] == "X-Kazi-Webhook-Secret"
    assert schemes["staffKey"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            caller = ROUTE_CALLERS[Operation(method.upper(), path)]
            assert operation["x-kazi-callers"] == [caller.value], (method, path)
            names = {name for requirement in operation["security"] for name in requirement}
            assert names <= schemes.keys()
            # No requirement: a public operation, or a callback whose credential is its path
            # (the token: OpenAPI has no scheme for a capability URL). The matrix shows the
            # callbacks refuse a path the engine did not make; here the token must be a
            # required path parameter, so no generated client can call one without it.
            path_credential = caller is Caller.PROVIDER_CALLBACK
            no_requirement = caller is Caller.PUBLIC or path_credential
            assert no_requirement == (operation["security"] == []), (method, path)
            if path_credential:
                assert path.endswith("/{token}"), (method, path)
                [token] = [p for p in operation["parameters"] if p["name"] == "token"]
                assert token["in"] == "path" and token["required"] is True, (method, path)
            # Credentials are described by the security requirement, not as parameters.
            headers = {
                p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"
            }
            assert not headers & {"authorization", "x-api-key", "x-kazi-webhook-secret"}


def test_the_security_doc_lists_every_operation_with_its_caller() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "security.md").read_text()
    rows = re.findall(r"^\| `([A-Z]+) (\S+)` \| (\w+) \|", doc, flags=re.MULTILINE)
    listed = {Operation(method, path): caller for method, path, caller in rows}
    assert listed == {operation: caller.value for operation, caller in ROUTE_CALLERS.items()}


def test_an_app_with_an_undeclared_route_is_refused(
    ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.api.app import create_app

    monkeypatch.delitem(ROUTE_CALLERS, Operation("GET", "/v1/jobs/{job_id}"))
    with pytest.raises(UndeclaredAccess, match=r"GET /v1/jobs/\{job_id\}: no caller declared"):
        create_app(ctx)
    monkeypatch.undo()
    app = create_app(ctx)
    app.get("/v1/unguarded")(lambda: {"open": True})
    app.openapi_schema = None  # rebuilt with the route added after create_app
    with pytest.raises(UndeclaredAccess, match="GET /v1/unguarded"):
        app.openapi()


def _send(world: World, operation: Operation, cred: Cred) -> Any:
    world.sending = cred
    call = REQUESTS[operation](world)
    query = {**call.query, **world.link_query(operation, cred)}
    path = call.path
    headers = call.headers if call.headers is not None else world.headers[cred]
    if operation in HOOK_ROWS:
        path = world.hook_path(path, cred)
        headers = {} if cred is Cred.CALLBACK else headers
    world.api.cookies.clear()  # only the column's credential, never a cookie an earlier row set
    return world.api.request(
        call.method, path, params=query, headers=headers, follow_redirects=not _app(operation),
        **call.kwargs,
    )  # fmt: skip


def _redirect_differs(operation: Operation, cred: Cred, resp: Any) -> str | None:
    """A 303 cell: the refusal goes to the login page (with ``next``), a route's own redirect
    goes anywhere else."""
    if resp.status_code != 303:
        return None
    to_login = resp.headers.get("location", "").startswith("/app/login?next=")
    if to_login != ((operation, cred) in LOGIN_REDIRECTS):
        return f"{cred}: 303 to {resp.headers.get('location')!r}"
    return None


@pytest.mark.parametrize(
    "operation", list(EXPECTED), ids=[f"{o.method} {o.path}" for o in EXPECTED]
)
def test_each_credential_gets_the_documented_status(world: World, operation: Operation) -> None:
    differ = []
    for cred, expected in EXPECTED[operation].items():
        resp = _send(world, operation, cred)
        if resp.status_code != expected:
            differ.append(f"{cred}: expected {expected}, got {resp.status_code} {resp.text[:200]}")
        elif (wrong_redirect := _redirect_differs(operation, cred, resp)) is not None:
            differ.append(wrong_redirect)
    assert not differ, f"{operation.method} {operation.path}:\n" + "\n".join(differ)


# Not JSON, and larger than any JSON route's limit: a route that read it before knowing its
# caller would answer 400, 413 or 422 instead of the refusal.
UNREADABLE_BODY = b"{" * (4 * 1024 * 1024 + 1)
BODY_ROWS = [o for o in EXPECTED if o.method in {"POST", "PUT"}]


@pytest.mark.parametrize("operation", BODY_ROWS, ids=[f"{o.method} {o.path}" for o in BODY_ROWS])
def test_a_refused_caller_is_refused_before_its_body_is_read(
    world: World, operation: Operation
) -> None:
    differ = []
    for cred, expected in EXPECTED[operation].items():
        if not _refused(operation, cred, expected):
            continue
        if (operation, cred) in LOGIN_REDIRECTS:
            expected = 401  # a JSON body: the app answers as to a JSON caller
        world.sending = cred
        call = REQUESTS[operation](world)
        query = {**call.query, **world.link_query(operation, cred)}
        path = world.hook_path(call.path, cred) if operation in HOOK_ROWS else call.path
        base = call.headers if call.headers is not None else world.headers[cred]
        headers = {**base, "Content-Type": "application/json"}
        world.api.cookies.clear()
        resp = world.api.request(
            call.method, path, params=query, headers=headers, content=UNREADABLE_BODY,
            follow_redirects=not _app(operation),
        )  # fmt: skip
        if resp.status_code != expected:
            differ.append(f"{cred}: expected {expected}, got {resp.status_code} {resp.text[:200]}")
    assert not differ, f"{operation.method} {operation.path}:\n" + "\n".join(differ)


def test_another_clients_jobs_stay_out_of_its_listing(world: World) -> None:
    def listed(cred: Cred) -> set[str]:
        resp = world.api.get("/v1/jobs", params={"limit": 200}, headers=world.headers[cred])
        return {job["id"] for job in resp.json()["items"]}

    assert {world.open_job, world.review_job} <= listed(Cred.CLIENT_A)
    assert not {world.open_job, world.review_job} & listed(Cred.CLIENT_B)
    secrets = {
        world.api.get("/v1/callback-secret", headers=world.headers[c]).json()["secret"]
        for c in (Cred.CLIENT_A, Cred.CLIENT_B)
    }
    assert len(secrets) == 2


def test_a_link_grants_one_method_on_one_key_until_it_expires(world: World) -> None:
    from engine.storage.signed_urls import sign_media_url

    secret = world.ctx.settings.signing_secret
    path = f"/v1/media/{world.media_key}"
    # A GET link does not upload, and a PUT link does not download.
    put = world.api.put(path, params=world.media_query, content=b"overwrite")
    assert put.status_code == 403
    assert (
        world.api.get(f"/v1/media/{world.upload_key}", params=world.upload_query).status_code == 403
    )
    # Its expiry is signed: moving it on breaks the signature; a link past it is refused.
    later = {**world.media_query, "expires": str(int(world.media_query["expires"]) + 3600)}
    assert world.api.get(path, params=later).status_code == 403
    expired = sign_media_url("", world.media_key, "GET", int(time.time()) - 1, secret)
    assert world.api.get(path, params=_query(expired)).status_code == 403
    assert world.api.get(path, params=world.media_query).status_code == 200


def test_a_trainee_cannot_finalize_a_result_through_the_review_route(
    security_api: TestClient, ctx: Any, celery_worker_process: Any
) -> None:
    """The reported fault: a trainee who answered a task sent their answer lease to
    POST /v1/review/{lease}/submit and their answer became the final result."""
    from engine.db.models import TaskResultRow
    from engine.workforce.service import set_tier

    api = security_api
    _, client = make_client(ctx)
    job = review_job(api, ctx, client, celery_worker_process, 2)
    job_id, trainee = job.job_id, job.trainee

    def results() -> dict[str, Any]:
        with ctx.sessions() as session:
            rows = session.scalars(select(TaskResultRow).where(TaskResultRow.job_id == job_id))
            return {r.task_id: (r.status, r.consensus, r.final) for r in rows}

    before = results()
    assert all(status == "in_review" and final is None for status, _, final in before.values())
    correction = {"client_review_id": "c1", "decision": "correct", "answer": {"label": "fish"}}
    for lease_id in job.trainee_leases:
        for body in (correction, {"client_review_id": "a1", "decision": "accept"}):
            resp = api.post(f"/v1/review/{lease_id}/submit", headers=trainee, json=body)
            assert resp.status_code == 404, resp.text
    # Nor with a reviewer's review lease, nor as a reviewer demoted while holding one.
    _, reviewer = _register(ctx, "reviewer")
    held = api.post("/v1/review/next", headers=reviewer, json={"job_id": job_id}).json()["lease_id"]
    assert (
        api.post(f"/v1/review/{held}/submit", headers=trainee, json=correction).status_code == 404
    )
    demoted_id, demoted = _register(ctx, "reviewer")
    lease = api.post("/v1/review/next", headers=demoted, json={"job_id": job_id}).json()["lease_id"]
    ctx.in_unit_of_work(set_tier, _handle(ctx, demoted_id), "trainee")
    refused = api.post(f"/v1/review/{lease}/submit", headers=demoted, json=correction)
    assert refused.status_code == 403, refused.text
    assert results() == before

    # The reviewer accepts both: the delivered labels are the consensus, never the trainee's.
    accept = {"client_review_id": "a2", "decision": "accept"}
    assert api.post(f"/v1/review/{held}/submit", headers=reviewer, json=accept).status_code == 201
    ctx.in_unit_of_work(set_tier, _handle(ctx, demoted_id), "reviewer")
    assert api.post(f"/v1/review/{lease}/submit", headers=demoted, json=accept).status_code == 201
    assert (
        wait_for_stage(ctx, job_id, {"delivered", "failed"}, 180, celery_worker_process)
        == "delivered"
    )
    after = results()
    assert all(
        status == "final" and final == consensus for status, consensus, final in after.values()
    )
    deliverables = api.get(f"/v1/jobs/{job_id}/deliverables", headers=client).json()["items"]
    csv_link = next(d["url"] for d in deliverables if d["name"] == "labels.csv")
    rows = api.get(_path(csv_link), params=_query(csv_link)).text.splitlines()[1:]
    delivered = sorted(line.rsplit(",", 1)[1] for line in rows)
    assert delivered == sorted(c["label"] for _, c, _ in after.values())
    assert "fish" not in delivered


def _handle(ctx: Any, worker_id: str) -> str:
    from engine.db.models import WorkerRow

    with ctx.sessions() as session:
        row = session.get(WorkerRow, worker_id)
        assert row is not None
        return str(row.handle)
