"""Who may call each route: one declaration per operation, checked when the app is built.

Every operation of the OpenAPI document (method + path template) names its caller here. The
app refuses to start when an operation has no entry (or an entry names no operation), so a new
route cannot ship without saying who may call it. The declaration goes into the OpenAPI
document: ``x-kazi-callers`` on each operation, and its ``security`` requirement with the
``securitySchemes`` below, so clients and the test suite read the same table.

The routes enforce it themselves (their key, secret or signature checks); the authorization
matrix test (tests/integration/security/) calls every operation with every kind of credential
and checks the outcome against this table. docs/security.md describes the model.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

from fastapi import FastAPI


class Caller(StrEnum):
    PUBLIC = "public"  # no credential (probes, CORS preflight)
    CLIENT = "client"  # a client's API key; a client sees only its own jobs
    WORKER = "worker"  # a worker's key, any tier
    REVIEWER = "reviewer"  # a worker's key, tier reviewer
    LABEL_STUDIO_WEBHOOK = "label_studio_webhook"  # the shared X-Kazi-Webhook-Secret header
    SIGNED_LINK = "signed_link"  # an HMAC-signed media link or start-work link
    STAFF = "staff"  # a programme staff key (kazs_...): payout runs
    # A payout provider posting a result to the per-payout URL the engine gave it (the URL
    # holds an HMAC of the payout id: a capability, see docs/security.md).
    PROVIDER_CALLBACK = "provider_callback"
    # The worker app's session cookie (kazi_app, from a one-time login code); its POSTs also
    # need the session's CSRF token (engine/worker_app/auth.py).
    WORKER_SESSION = "worker_session"


class Operation(NamedTuple):
    method: str  # upper case, as in "GET"
    path: str  # the OpenAPI path template, as in "/v1/jobs/{job_id}"


ROUTE_CALLERS: dict[Operation, Caller] = {
    Operation("GET", "/health"): Caller.PUBLIC,
    Operation("GET", "/health/live"): Caller.PUBLIC,
    Operation("GET", "/health/ready"): Caller.PUBLIC,
    Operation("POST", "/v1/jobs"): Caller.CLIENT,
    Operation("GET", "/v1/jobs"): Caller.CLIENT,
    Operation("GET", "/v1/jobs/{job_id}"): Caller.CLIENT,
    Operation("GET", "/v1/jobs/{job_id}/tasks"): Caller.CLIENT,
    Operation("GET", "/v1/jobs/{job_id}/deliverables"): Caller.CLIENT,
    Operation("POST", "/v1/uploads"): Caller.CLIENT,
    Operation("GET", "/v1/callback-secret"): Caller.CLIENT,
    Operation("GET", "/v1/media/{key}"): Caller.SIGNED_LINK,
    Operation("HEAD", "/v1/media/{key}"): Caller.SIGNED_LINK,
    Operation("PUT", "/v1/media/{key}"): Caller.SIGNED_LINK,
    Operation("OPTIONS", "/v1/media/{key}"): Caller.PUBLIC,
    Operation("POST", "/v1/work/next"): Caller.WORKER,
    Operation("POST", "/v1/work/{lease_id}/submit"): Caller.WORKER,
    Operation("POST", "/v1/work/{lease_id}/release"): Caller.WORKER,
    Operation("GET", "/v1/work/feedback"): Caller.WORKER,
    Operation("GET", "/v1/work/label-studio/start"): Caller.SIGNED_LINK,
    Operation("POST", "/v1/review/next"): Caller.REVIEWER,
    Operation("POST", "/v1/review/{lease_id}/submit"): Caller.REVIEWER,
    Operation("POST", "/v1/hooks/label-studio"): Caller.LABEL_STUDIO_WEBHOOK,
    Operation("GET", "/v1/work/earnings"): Caller.WORKER,
    Operation("POST", "/v1/work/answers/{answer_id}/dispute"): Caller.WORKER,
    Operation("GET", "/v1/review/disputes"): Caller.REVIEWER,
    Operation("POST", "/v1/review/disputes/{dispute_id}/decide"): Caller.REVIEWER,
    Operation("POST", "/v1/jobs/quote"): Caller.CLIENT,
    Operation("GET", "/v1/work/statements/{month}"): Caller.WORKER,
    Operation("POST", "/v1/statements/verify"): Caller.PUBLIC,
    Operation("PUT", "/v1/work/payout-method"): Caller.WORKER,
    Operation("GET", "/v1/work/payout-method"): Caller.WORKER,
    Operation("POST", "/v1/work/payout-method/confirm"): Caller.WORKER,
    Operation("POST", "/v1/staff/payouts/runs"): Caller.STAFF,
    Operation("GET", "/v1/staff/payouts/runs/{batch_id}"): Caller.STAFF,
    Operation("POST", "/v1/hooks/mpesa/result/{token}"): Caller.PROVIDER_CALLBACK,
    Operation("POST", "/v1/hooks/mpesa/timeout/{token}"): Caller.PROVIDER_CALLBACK,
    Operation("POST", "/v1/hooks/momo/{token}"): Caller.PROVIDER_CALLBACK,
    Operation("PUT", "/v1/hooks/momo/{token}"): Caller.PROVIDER_CALLBACK,
    # The worker app (engine/worker_app/pages.py).
    Operation("GET", "/app/login"): Caller.PUBLIC,
    Operation("GET", "/app/login/{code}"): Caller.PUBLIC,
    Operation("POST", "/app/login"): Caller.PUBLIC,
    Operation("POST", "/app/logout"): Caller.WORKER_SESSION,
    Operation("POST", "/app/language"): Caller.WORKER_SESSION,
    Operation("GET", "/app"): Caller.WORKER_SESSION,
    Operation("GET", "/app/feedback"): Caller.WORKER_SESSION,
    Operation("GET", "/app/earnings"): Caller.WORKER_SESSION,
    Operation("GET", "/app/statements"): Caller.WORKER_SESSION,
    Operation("GET", "/app/statements/{month}"): Caller.WORKER_SESSION,
    # Task pages (engine/worker_app/task_pages.py); the service worker script is the shell.
    Operation("GET", "/app/task"): Caller.WORKER_SESSION,
    Operation("GET", "/app/task/done"): Caller.WORKER_SESSION,
    Operation("POST", "/app/task/{lease_id}/submit"): Caller.WORKER_SESSION,
    Operation("POST", "/app/task/{lease_id}/heartbeat"): Caller.WORKER_SESSION,
    Operation("POST", "/app/task/{lease_id}/skip"): Caller.WORKER_SESSION,
    Operation("GET", "/app/sw.js"): Caller.PUBLIC,
    # Training (engine/training/endpoints.py).
    Operation("GET", "/app/training"): Caller.WORKER_SESSION,
    Operation("GET", "/app/training/next"): Caller.WORKER_SESSION,
    Operation("POST", "/app/training/{item_id}/answer"): Caller.WORKER_SESSION,
}

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "clientKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A client's API key: `Authorization: Bearer <key>` (or X-API-Key).",
    },
    "clientKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A client's API key in its own header.",
    },
    "workerKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "kazw_<prefix>_<secret>",
        "description": "A worker's key: `Authorization: Bearer <worker key>`. Review routes "
        "take it from reviewers only (`x-kazi-callers: [reviewer]`).",
    },
    "labelStudioWebhook": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Kazi-Webhook-Secret",
        "description": "The shared secret Label Studio sends with each webhook.",
    },
    "staffKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "kazs_<prefix>_<secret>",
        "description": "A programme staff key (`kazi staff add NAME`): payout runs.",
    },
    "appSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "kazi_app",
        "description": "The worker app's session cookie, set by POST /app/login from a "
        "one-time code; POSTs also send the session's CSRF token (form field csrf_token or "
        "header X-CSRF-Token).",
    },
    "signedLink": {
        "type": "apiKey",
        "in": "query",
        "name": "signature",
        "description": "An HMAC signature the engine put in a link it handed out (a media "
        "link, with `expires`; a worker's start link, with `worker`).",
    },
}

_SECURITY: dict[Caller, list[dict[str, list[str]]]] = {
    Caller.PUBLIC: [],
    Caller.CLIENT: [{"clientKey": []}, {"clientKeyHeader": []}],
    Caller.WORKER: [{"workerKey": []}],
    Caller.REVIEWER: [{"workerKey": []}],
    Caller.LABEL_STUDIO_WEBHOOK: [{"labelStudioWebhook": []}],
    Caller.SIGNED_LINK: [{"signedLink": []}],
    Caller.STAFF: [{"staffKey": []}],
    # The credential is the path itself (OpenAPI has no scheme for a capability URL).
    Caller.PROVIDER_CALLBACK: [],
    Caller.WORKER_SESSION: [{"appSession": []}],
}

# Header parameters that carry a credential: the security requirement documents them instead
# (OpenAPI ignores a parameter named Authorization anyway).
_CREDENTIAL_HEADERS = {"authorization", "x-api-key", "x-kazi-webhook-secret"}
_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class UndeclaredAccess(RuntimeError):
    """An operation without a caller in ROUTE_CALLERS, or an entry for no operation."""


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI document."""
    return [
        Operation(method.upper(), path)
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in _HTTP_METHODS
    ]


def check_declared(document: dict[str, Any]) -> None:
    served = set(operations(document))
    undeclared = sorted(served - ROUTE_CALLERS.keys())
    stale = sorted(ROUTE_CALLERS.keys() - served)
    problems = [f"{m} {p}: no caller declared in engine/api/access.py" for m, p in undeclared]
    problems += [f"{m} {p}: declared in engine/api/access.py but not served" for m, p in stale]
    if problems:
        raise UndeclaredAccess("; ".join(problems))


def _document_access(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            caller = ROUTE_CALLERS[Operation(method.upper(), path)]
            operation["x-kazi-callers"] = [caller.value]
            operation["security"] = _SECURITY[caller]
            parameters = [
                p
                for p in operation.get("parameters", [])
                if not (
                    p.get("in") == "header" and p.get("name", "").lower() in _CREDENTIAL_HEADERS
                )
            ]
            if parameters:
                operation["parameters"] = parameters
            else:
                operation.pop("parameters", None)


def declare_access(app: FastAPI) -> None:
    """Refuse an app with an undeclared operation; put the declaration into its OpenAPI
    document. Call it once every router is included."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        check_declared(document)
        _document_access(document)  # idempotent: the document is built once and cached
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    openapi()
