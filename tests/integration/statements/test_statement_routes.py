"""A worker's signed statement through the API on PostgreSQL: its figures come from the
engine's leases and the ledger, a lender's verify call accepts it untouched and refuses it
changed, and bad input gets a clear 4xx."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.integration.billing.test_delivery_invoice import _paid_job, _score_and_deliver


def _raw(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(
        key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                          serialization.NoEncryption())
    ).decode()  # fmt: skip


@pytest.fixture
def signing_key(monkeypatch) -> Ed25519PrivateKey:  # type: ignore[no-untyped-def]
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv("KAZI_STATEMENT_SIGNING_KEY", _raw(key))
    monkeypatch.delenv("KAZI_STATEMENT_SIGNING_KEY_PREVIOUS", raising=False)
    return key


def _worker(ctx) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    w = ctx.in_unit_of_work(register_worker, f"s-{uuid.uuid4().hex[:10]}", "qualified")
    return w.id, {"Authorization": f"Bearer {w.api_key}"}


MONTH = datetime.now(UTC).strftime("%Y-%m")


def test_a_statement_of_real_work_verifies_and_a_changed_one_does_not(  # type: ignore[no-untyped-def]
    api, ctx, signing_key
) -> None:
    from engine.domain.ledger import AccountKind, AccountRef

    idle_id, idle_headers = _worker(ctx)
    empty = api.get(f"/v1/work/statements/{MONTH}", headers=idle_headers)
    assert empty.status_code == 200, empty.text
    assert empty.json()["work"]["answers"] == 0 and empty.json()["money"] == []
    assert empty.json()["worker"]["id"] == idle_id

    (worker_id, headers), (other_id, _) = _worker(ctx), _worker(ctx)
    _, job_id = _paid_job(ctx, 1_000_000, workers=[worker_id, other_id])
    _score_and_deliver(ctx, job_id)
    with ctx.uow() as uow:
        pending = uow.ledger.balance(AccountRef(AccountKind.WORKER_PENDING, worker_id, "KES"))
        leases = uow.statements.submitted_leases(
            worker_id, datetime(2000, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
        )
    response = api.get(f"/v1/work/statements/{MONTH}", headers=headers)
    assert response.status_code == 200, response.text
    signed = response.json()
    work = signed["work"]
    assert (work["answers"], work["submitted_leases"]) == (3, 3) == (3, len(leases))
    assert work["jobs"][0]["job_id"] == job_id
    expected_seconds = sum(
        int((min(x.ended_at, x.expires_at) - x.created_at).total_seconds()) for x in leases
    )
    assert work["working_seconds"] == expected_seconds
    if pending:  # what the earning rules paid for these answers
        [money] = signed["money"]
        assert money["net_earnings"]["minor"] == pending
        assert money["closing_balances"]["pending"]["minor"] == pending

    verdict = api.post("/v1/statements/verify", json=signed)
    assert verdict.status_code == 200
    assert verdict.json()["valid"] is True, verdict.json()
    assert verdict.json()["key_id"] == signed["signature"]["key_id"]

    tampered = copy.deepcopy(signed)
    tampered["work"]["answers"] = 500
    answer = api.post("/v1/statements/verify", json=tampered).json()
    assert answer["valid"] is False and "altered" in answer["reason"]

    html = api.get(f"/v1/work/statements/{MONTH}?format=html", headers=headers)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert signed["signature"]["key_id"] in html.text


def test_a_tampered_amount_is_not_valid(api, ctx, signing_key) -> None:  # type: ignore[no-untyped-def]
    from engine.statements.service import issue_statement

    worker_id, _ = _worker(ctx)
    from engine.billing.service import job_reservation
    from engine.domain.ledger import AccountKind, AccountRef, TransactionKind, Transfer, entry
    from engine.ledger.service import post

    _, job_id = _paid_job(ctx, 1_000_000)
    ctx.in_unit_of_work(
        post,
        entry(f"earn:answer:stmt-{uuid.uuid4().hex[:8]}", TransactionKind.EARN,
              Transfer(job_reservation(job_id, "KES"),
                       AccountRef(AccountKind.WORKER_PENDING, worker_id, "KES"), 4321)),
    )  # fmt: skip
    signed = ctx.in_unit_of_work(issue_statement, worker_id, MONTH, ctx.settings)
    assert signed["money"][0]["earned"]["minor"] == 4321
    assert api.post("/v1/statements/verify", json=signed).json()["valid"] is True
    signed["money"][0]["earned"]["minor"] = 43210
    assert api.post("/v1/statements/verify", json=signed).json()["valid"] is False


def test_a_rotated_key_still_verifies_and_an_unknown_one_does_not(  # type: ignore[no-untyped-def]
    api, ctx, monkeypatch, signing_key
) -> None:
    from engine.statements.service import issue_statement

    worker_id, _ = _worker(ctx)
    old = ctx.in_unit_of_work(issue_statement, worker_id, MONTH, ctx.settings)
    monkeypatch.setenv("KAZI_STATEMENT_SIGNING_KEY", _raw(Ed25519PrivateKey.generate()))
    answer = api.post("/v1/statements/verify", json=old).json()
    assert answer["valid"] is False and "does not know" in answer["reason"]
    monkeypatch.setenv("KAZI_STATEMENT_SIGNING_KEY_PREVIOUS", _raw(signing_key))
    assert api.post("/v1/statements/verify", json=old).json()["valid"] is True


def test_without_a_signing_key_production_answers_503(api, ctx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("KAZI_STATEMENT_SIGNING_KEY", raising=False)
    _, headers = _worker(ctx)
    response = api.get(f"/v1/work/statements/{MONTH}", headers=headers)
    assert response.status_code == 503
    assert response.json()["code"] == "statement_signing_unavailable"
    assert "KAZI_STATEMENT_SIGNING_KEY" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/work/statements/2026-13", 422),
        ("/v1/work/statements/2026-00", 422),
        ("/v1/work/statements/26-01", 422),
        ("/v1/work/statements/2026-1", 422),
        ("/v1/work/statements/..%2F..%2Fetc", 404),
        ("/v1/work/statements/../jobs", 404),
        ("/v1/work/statements/2026-11?format=pdf", 422),
        ("/v1/work/statements/%00", 422),
    ],
)
def test_bad_statement_requests(api, ctx, signing_key, path: str, status: int) -> None:  # type: ignore[no-untyped-def]
    _, headers = _worker(ctx)
    response = api.get(path, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["code"]


def test_a_statement_needs_a_worker_key(api, signing_key) -> None:  # type: ignore[no-untyped-def]
    for headers in ({}, {"Authorization": "Bearer kazw_nope_nope"}):
        assert api.get(f"/v1/work/statements/{MONTH}", headers=headers).status_code == 401
    # The month is not even looked at without a key.
    assert api.get("/v1/work/statements/2026-13").status_code == 401


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        ("{nope", "application/json", 422),
        ("", "application/json", 422),
        ('{"a": 1}', "text/plain", 415),
        ("a=1", "application/x-www-form-urlencoded", 415),
        ('{"work": ' + '"x"' * 1 + ', "pad": "' + "x" * 70_000 + '"}', "application/json", 413),
        ("[" * 5000 + "]" * 5000, "application/json", 422),  # nested too deeply
        ("[[[]]]", "application/json", 200),  # not an object: not valid
        ("[1, 2]", "application/json", 200),
        ('{"signature": null}', "application/json", 200),
        ('"\\ud800"', "application/json", 200),
    ],
)
def test_bad_verify_bodies(api, signing_key, content: str, content_type: str, status: int) -> None:  # type: ignore[no-untyped-def]
    response = api.post(
        "/v1/statements/verify", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    if status == 200:
        assert body["valid"] is False and body["reason"]
    else:
        assert body["code"] and body["detail"]


def test_a_duplicated_member_is_not_the_signed_statement(api, ctx, signing_key) -> None:  # type: ignore[no-untyped-def]
    from engine.statements.service import issue_statement

    worker_id, _ = _worker(ctx)
    signed = ctx.in_unit_of_work(issue_statement, worker_id, MONTH, ctx.settings)
    text = json.dumps(signed)
    # A duplicated key changes what the document says: not the signed statement.
    forged = text[:-1] + ', "worker": {"id": "someone-else", "handle": "x"}}'
    answer = api.post(
        "/v1/statements/verify", content=forged, headers={"Content-Type": "application/json"}
    )
    assert answer.json()["valid"] is False
