"""Schemathesis against the OpenAPI document, in process: generated requests (valid and
invalid) to every operation, each with the credential its declared caller holds
(engine/api/access.py), must never get a 5xx and every response must match the document.

Bounded to stay a few minutes on two cores: a handful of generated cases per operation, derandomized
so a failure is the same on every run. A failure prints the request to reproduce it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from engine.api.access import ROUTE_CALLERS, Caller, Operation
from tests.conftest import make_client
from tests.integration.security.payout_callers import paid_out, staff_auth, token_of
from tests.media_samples import png_bytes

# Generated cases per operation, valid and invalid ones together.
EXAMPLES_PER_OPERATION = 100


@pytest.fixture(scope="module")
def fuzzed_app(ctx: Any) -> Any:
    from engine.api.app import create_app

    return create_app(ctx)


@dataclass(frozen=True)
class Callers:
    headers: dict[Caller, dict[str, str]]  # the credential of each kind of caller
    path_parameters: dict[str, str]  # ids of real objects: cases that reach past the lookup
    app_session: Callable[[], dict[str, str]]  # a new worker-app session (cookie, CSRF header)


@pytest.fixture(scope="module")
def callers(ctx: Any, fuzzed_app: Any) -> Callers:
    from engine.worker_app.sessions import issue_login_code
    from engine.workforce.service import register_worker

    def worker_key(tier: str) -> dict[str, str]:
        worker = ctx.in_unit_of_work(register_worker, f"fuzz-{uuid.uuid4().hex[:10]}", tier)
        return {"Authorization": f"Bearer {worker.api_key}"}

    _, client = make_client(ctx)
    spec = {"kind": "image_classification", "labels": ["cat", "dog"], "gold_ratio": 0.0}
    with TestClient(fuzzed_app) as api:
        job = api.post(
            "/v1/jobs",
            headers=client,
            data={"spec": json.dumps(spec)},
            files=[("files", ("one.png", png_bytes(32, 24, (90, 20, 200)), "image/png"))],
        )
    assert job.status_code == 201, job.text
    # A real MoMo payout waiting for its result: generated results reach past the token
    # check to the payout (on every callback route: the token names the payout, not a route).
    paid = paid_out(ctx)

    def app_session() -> dict[str, str]:
        from tests.integration.security.test_authorization_matrix import app_session_headers

        handle = f"fuzz-{uuid.uuid4().hex[:10]}"
        ctx.in_unit_of_work(register_worker, handle, "trainee")
        code, _ = ctx.in_unit_of_work(issue_login_code, handle)
        with TestClient(fuzzed_app) as api:
            return app_session_headers(api, ctx, code)[0]

    return Callers(
        headers={
            Caller.PUBLIC: {},
            Caller.CLIENT: client,
            Caller.WORKER: worker_key("qualified"),
            Caller.REVIEWER: worker_key("reviewer"),
            Caller.LABEL_STUDIO_WEBHOOK: {"X-Kazi-Webhook-Secret": ctx.settings.webhook_secret},
            # A link's signature is a generated parameter like the others (refused unless forged).
            Caller.SIGNED_LINK: {},
            Caller.STAFF: staff_auth(ctx),
            # The credential is the {token} path parameter (below), not a header.
            Caller.PROVIDER_CALLBACK: {},
        },
        path_parameters={
            "job_id": job.json()["id"],
            "batch_id": paid.mpesa_batch,
            "token": token_of(paid.momo.result_path),
        },
        app_session=app_session,
    )


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: Any) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    # The credential comes from the declaration, not generated at random.
    schema.config.generation.update(with_security_parameters=False)
    return schema


# schemathesis' pytest plugin cannot load a schema from a fixture under pytest 9 (its lazy
# loader sets Function._nodeid, gone in pytest 9), and this schema needs the test database:
# each operation runs its own Hypothesis test over schemathesis' strategies instead.
@pytest.mark.parametrize(
    "operation", sorted(ROUTE_CALLERS), ids=[f"{o.method} {o.path}" for o in sorted(ROUTE_CALLERS)]
)
def test_no_server_error_and_every_response_as_documented(
    api_schema: Any, callers: Callers, operation: Operation
) -> None:
    api_operation = api_schema[operation.path][operation.method]
    caller = ROUTE_CALLERS[operation]
    # A worker-app route gets a session of its own (logout ends the one it is sent).
    headers = callers.app_session() if caller is Caller.WORKER_SESSION else callers.headers[caller]
    strategies = [
        api_operation.as_strategy(GenerationMode.POSITIVE),
        api_operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    known = {k: v for k, v in callers.path_parameters.items() if f"{{{k}}}" in operation.path}
    if known:
        strategies.append(api_operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
    cases = st.one_of(strategies)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def call(case: Any) -> None:
        case.call_and_validate(
            headers=headers, checks=[not_a_server_error, response_schema_conformance]
        )

    call()


def test_the_fuzzed_app_is_the_engines(fuzzed_app: Any) -> None:
    # The suite above is only as good as the document it reads: every operation is declared.
    with TestClient(fuzzed_app) as client:
        document = client.get("/openapi.json").json()
    served = {Operation(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert served == ROUTE_CALLERS.keys()
