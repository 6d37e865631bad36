"""The payout routes: a worker's payout method (register, confirm, view, change-hold), the
staff run route, the provider callbacks, and tables of bad input for each (clear 4xx, never
5xx; a missing or wrong credential is a 401 whatever the body)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from engine.payouts import service
from tests.integration.payouts.conftest import Payouts, available


def _worker(ctx: Any) -> tuple[str, dict[str, str]]:
    from engine.workforce.service import register_worker

    created = ctx.in_unit_of_work(register_worker, f"pm-{uuid.uuid4().hex[:10]}")
    return created.id, {"Authorization": f"Bearer {created.api_key}"}


METHOD = {"provider": "mpesa", "msisdn": "+254712345678", "account_name": "Amina K"}


def _code(ctx: Any, worker_id: str) -> str:
    with ctx.uow() as uow:
        code = service.pending_code(uow, worker_id, ctx.token_cipher)
    assert code is not None
    return code


def test_register_confirm_and_view_masked(api: Any, ctx: Any) -> None:
    worker_id, auth = _worker(ctx)
    assert api.get("/v1/work/payout-method", headers=auth).status_code == 404
    put = api.put(
        "/v1/work/payout-method",
        headers=auth,
        json={**METHOD, "msisdn": "0712 345 678", "region": "KE"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["msisdn"] == "+2547•••••678" and put.json()["state"] == "pending"
    assert "712345678" not in put.text  # the number is shown masked only
    code = _code(ctx, worker_id)
    wrong = "000000" if code != "000000" else "111111"
    refused = api.post("/v1/work/payout-method/confirm", headers=auth, json={"code": wrong})
    assert refused.status_code == 422 and refused.json()["code"] == "wrong_code"
    assert "4 attempt" in refused.json()["detail"]  # the wrong attempt was counted
    ok = api.post("/v1/work/payout-method/confirm", headers=auth, json={"code": code})
    assert ok.status_code == 200 and ok.json()["state"] == "confirmed"
    assert ok.json()["hold_until"] is None  # a first method: nothing to hold
    view = api.get("/v1/work/payout-method", headers=auth).json()
    assert view["state"] == "confirmed" and view["msisdn"] == "+2547•••••678"
    with ctx.uow() as uow:
        row = uow.payouts.live_method(worker_id)
        assert row is not None and "712345678" not in row.msisdn_sealed  # sealed at rest


def test_change_of_method_holds_the_next_payout(api: Any, ctx: Any, payouts: Payouts) -> None:
    worker_id, auth = _worker(ctx)
    api.put("/v1/work/payout-method", headers=auth, json=METHOD)
    api.post("/v1/work/payout-method/confirm", headers=auth, json={"code": _code(ctx, worker_id)})
    changed = {**METHOD, "msisdn": "+254722000111"}
    assert api.put("/v1/work/payout-method", headers=auth, json=changed).status_code == 200
    payouts.fund(worker_id, "KES", 10_000)
    # Not confirmed yet: refused; the old method is no longer used either.
    assert payouts.run("KES", [worker_id]).skipped[0]["reason"] == "unconfirmed_method"
    ok = api.post(
        "/v1/work/payout-method/confirm", headers=auth, json={"code": _code(ctx, worker_id)}
    )
    assert ok.json()["hold_until"] is not None
    assert payouts.run("KES", [worker_id]).skipped[0]["reason"] == "method_change_hold"
    assert payouts.payouts_of(worker_id) == []


def test_too_many_wrong_codes_lock_the_method(api: Any, ctx: Any) -> None:
    worker_id, auth = _worker(ctx)
    api.put("/v1/work/payout-method", headers=auth, json=METHOD)
    code = _code(ctx, worker_id)
    wrong = "000000" if code != "000000" else "111111"
    answers = [
        api.post("/v1/work/payout-method/confirm", headers=auth, json={"code": wrong}).status_code
        for _ in range(5)
    ]
    assert answers == [422, 422, 422, 422, 423]
    late = api.post("/v1/work/payout-method/confirm", headers=auth, json={"code": code})
    assert late.status_code == 423


def test_worker_without_national_id_needs_only_a_number(api: Any, ctx: Any) -> None:
    _, auth = _worker(ctx)
    body = {"provider": "mtn_momo", "msisdn": "+256772123456", "account_name": "A. R."}
    assert api.put("/v1/work/payout-method", headers=auth, json=body).status_code == 200


BAD_METHODS = [
    ({}, 422),
    ({**METHOD, "provider": "paypal"}, 422),
    ({**METHOD, "provider": "csv:Bad Label"}, 422),
    ({**METHOD, "msisdn": "not-a-number"}, 422),
    ({**METHOD, "msisdn": "0712345678"}, 422),  # no country: needs region
    ({**METHOD, "msisdn": "+254202222222"}, 422),  # a fixed line
    ({**METHOD, "msisdn": "9" * 40}, 422),
    ({**METHOD, "account_name": ""}, 422),
    ({**METHOD, "account_name": "x" * 201}, 422),
    ({**METHOD, "region": "kenya"}, 422),
    ({**METHOD, "extra": 1}, 422),
    ({**METHOD, "msisdn": 254712345678}, 422),
    ({**METHOD, "account_name": "a\u0000b"}, 422),
]


@pytest.mark.parametrize(("body", "status"), BAD_METHODS)
def test_bad_method_bodies(api: Any, ctx: Any, body: dict[str, Any], status: int) -> None:
    _, auth = _worker(ctx)
    answer = api.put("/v1/work/payout-method", headers=auth, json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"]


@pytest.mark.parametrize(
    "body",
    [{}, {"code": "12345"}, {"code": 123456}, {"code": "abcdef"}, {"code": "1234567"}, {"x": 1}],
)
def test_bad_confirm_bodies(api: Any, ctx: Any, body: dict[str, Any]) -> None:
    _, auth = _worker(ctx)
    answer = api.post("/v1/work/payout-method/confirm", headers=auth, json=body)
    assert answer.status_code == 422, answer.text


def test_confirm_without_a_method_is_404(api: Any, ctx: Any) -> None:
    _, auth = _worker(ctx)
    answer = api.post("/v1/work/payout-method/confirm", headers=auth, json={"code": "123456"})
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/work/payout-method"),
        ("GET", "/v1/work/payout-method"),
        ("POST", "/v1/work/payout-method/confirm"),
        ("POST", "/v1/staff/payouts/runs"),
        ("GET", "/v1/staff/payouts/runs/x"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer kazw_nope_nope"},
        {"Authorization": "Bearer kazs_nope_nope"},
        {"Authorization": "Basic x"},
    ],
)
def test_routes_refuse_missing_or_wrong_keys_before_the_body(
    api: Any, method: str, path: str, headers: dict[str, str]
) -> None:
    # An oversized, invalid body: still a 401, the body is never looked at.
    answer = api.request(method, path, headers=headers, content=b"{" * 200_000)
    assert answer.status_code == 401, answer.text


def test_worker_key_is_not_a_staff_key(api: Any, ctx: Any) -> None:
    _, auth = _worker(ctx)
    answer = api.post("/v1/staff/payouts/runs", headers=auth, json={"currency": "KES"})
    assert answer.status_code == 401


def test_revoked_staff_key_is_refused(api: Any, ctx: Any) -> None:
    from engine.staff.service import add_staff, revoke_staff

    name = f"staff-{uuid.uuid4().hex[:8]}"
    issued = ctx.in_unit_of_work(add_staff, name)
    auth = {"Authorization": f"Bearer {issued.api_key}"}
    assert api.get("/v1/staff/payouts/runs/none", headers=auth).status_code == 404
    ctx.in_unit_of_work(revoke_staff, name)
    assert api.get("/v1/staff/payouts/runs/none", headers=auth).status_code == 401


BAD_RUNS = [
    {},
    {"currency": "kes"},
    {"currency": "XYZ"},  # not ISO 4217
    {"currency": "KES", "min_amount": "-1"},
    {"currency": "KES", "min_amount": "1.001"},  # more decimals than KES has
    {"currency": "KES", "min_amount": 100},
    {"currency": "KES", "min_amount": "1e3"},
    {"currency": "KES", "provider": "paypal"},
    {"currency": "KES", "benefits": "yes"},
    {"currency": "KES", "extra": True},
    {"currency": "UGX", "provider": "mpesa"},  # M-Pesa B2C pays KES only
    {"currency": "KES", "provider": "mtn_momo"},  # not a MoMo market
]


@pytest.mark.parametrize("body", BAD_RUNS)
def test_bad_run_bodies(api: Any, staff_auth: dict[str, str], body: dict[str, Any]) -> None:
    answer = api.post("/v1/staff/payouts/runs", headers=staff_auth, json=body)
    assert answer.status_code == 422, answer.text


def test_run_for_a_provider_in_a_currency_it_does_not_pay_is_refused_up_front(
    api: Any, payouts: Payouts, staff_auth: dict[str, str]
) -> None:
    api.app.state.payout_providers = payouts.registry
    try:
        w, _ = payouts.worker("UGX", 10_000)  # an M-Pesa method, a UGX balance
        answer = api.post(
            "/v1/staff/payouts/runs",
            headers=staff_auth,
            json={"currency": "UGX", "provider": "mpesa"},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "currency_not_paid"
        assert "KES" in answer.json()["detail"] and "UGX" in answer.json()["detail"]
        assert payouts.payouts_of(w) == [] and payouts.balance(available(w, "UGX")) == 10_000
        assert payouts.fake.requests == []
    finally:
        api.app.state.payout_providers = None


def test_staff_run_route(api: Any, ctx: Any, payouts: Payouts, staff_auth: dict[str, str]) -> None:
    api.app.state.payout_providers = payouts.registry
    try:
        w, _ = payouts.worker("ZMW", 10_000, provider="mtn_momo")
        answer = api.post(
            "/v1/staff/payouts/runs",
            headers=staff_auth,
            json={"currency": "ZMW", "provider": "mtn_momo"},
        )
        assert answer.status_code == 201, answer.text
        batch = answer.json()["batch_id"]
        assert [p["worker_id"] for p in answer.json()["paid"] if p["worker_id"] == w] == [w]
        view = api.get(f"/v1/staff/payouts/runs/{batch}", headers=staff_auth)
        assert view.status_code == 200 and view.json()["payouts"][0]["state"] == "submitted"
        assert view.json()["requested_by"].startswith("staff:")
    finally:
        api.app.state.payout_providers = None


def _valid_token(ctx: Any) -> str:
    return service.callback_token(str(uuid.uuid4()), ctx.settings.signing_secret)


@pytest.mark.parametrize(
    "hook", ["/v1/hooks/mpesa/result", "/v1/hooks/mpesa/timeout", "/v1/hooks/momo"]
)
@pytest.mark.parametrize("token", ["nope", "a.b", str(uuid.uuid4()) + "." + "0" * 40, "x" * 200])
def test_callbacks_refuse_urls_the_engine_did_not_make(api: Any, hook: str, token: str) -> None:
    answer = api.post(f"{hook}/{token}", content=b"{" * 10_000)
    assert answer.status_code == 401, answer.text
    if hook.endswith("momo"):
        assert api.put(f"{hook}/{token}", content=b"{").status_code == 401


BAD_RESULTS = [
    (b"not json", 400),
    (b"[]", 400),
    (b'{"Result": "x"}', 400),
    (b'{"Result": {"ResultCode": 0}}', 400),
    (b'{"Result": {"OriginatorConversationID": 5, "ResultCode": 0}}', 400),
    (b'{"Result": {"OriginatorConversationID": "a\\u0000", "ResultCode": 0}}', 400),
    (b'{"Result": {"OriginatorConversationID": "x", "ResultCode": true}}', 400),
    (b"{" + b'"a":1,' * 5000 + b'"b":2}', 413),
]


@pytest.mark.parametrize(("body", "status"), BAD_RESULTS)
def test_bad_mpesa_results(api: Any, ctx: Any, body: bytes, status: int) -> None:
    answer = api.post(
        f"/v1/hooks/mpesa/result/{_valid_token(ctx)}",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"status": "DONE"}', b'{"status": "SUCCESSFUL", "amount": 1.5}', b"nope"],
)
def test_bad_momo_results(api: Any, ctx: Any, body: bytes) -> None:
    answer = api.post(f"/v1/hooks/momo/{_valid_token(ctx)}", content=body)
    assert answer.status_code == 400, answer.text


def test_momo_result_for_unknown_payout_is_404(api: Any, ctx: Any) -> None:
    answer = api.post(f"/v1/hooks/momo/{_valid_token(ctx)}", json={"status": "SUCCESSFUL"})
    assert answer.status_code == 404 and answer.json()["code"] == "unknown_reference"
