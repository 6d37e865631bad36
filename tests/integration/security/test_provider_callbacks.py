"""Provider callbacks past the token check: a result the engine cannot read for a real payout
is refused (4xx) and recorded, never a server error, and the payout stays as it was."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.security.payout_callers import PaidOut, paid_out


@pytest.fixture(scope="module")
def hooks_api(ctx: Any) -> Iterator[TestClient]:
    from engine.api.app import create_app

    with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def paid(ctx: Any) -> PaidOut:
    return paid_out(ctx)


def _state(ctx: Any, payout_id: str) -> str:
    with ctx.uow() as uow:
        payout = uow.payouts.payout(payout_id)
        assert payout is not None
        return str(payout.state)


@pytest.mark.parametrize(
    "changes",
    [
        {"currency": "ZZZ"},  # not ISO 4217
        {"currency": "ugx"},
        {"amount": "not a number"},
        {"amount": "1.5"},  # UGX has no minor unit
    ],
)
def test_an_unreadable_momo_amount_is_refused_not_a_server_error(
    hooks_api: TestClient, ctx: Any, paid: PaidOut, changes: dict[str, str]
) -> None:
    body = {**paid.momo.result_body, "status": "SUCCESSFUL", "amount": "1", **changes}
    answer = hooks_api.post(paid.momo.result_path, json=body)
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "result_refused"
    assert _state(ctx, paid.momo.payout_id) == "submitted"


def _recorded(ctx: Any, reference: str) -> int:
    with ctx.uow() as uow:
        rows = uow.payouts.results_with_outcome("unknown_reference")
        return sum(1 for r in rows if r.reference == reference)


def test_a_token_works_only_on_its_providers_routes(
    hooks_api: TestClient, ctx: Any, paid: PaidOut
) -> None:
    """A token names a payout; the provider it was given to is the payout's. Another
    provider's route with it is refused (404, recorded) and moves nothing."""
    momo_token = paid.momo.result_path.rsplit("/", 1)[1]
    mpesa_token = paid.mpesa.result_path.rsplit("/", 1)[1]
    # A Daraja result naming the MoMo payout, on the M-Pesa routes with the MoMo token.
    daraja = {"Result": {**paid.mpesa.result_body["Result"]}}
    daraja["Result"]["OriginatorConversationID"] = paid.momo.payout_id
    before = _recorded(ctx, paid.momo.payout_id)
    for path in (f"/v1/hooks/mpesa/result/{momo_token}", f"/v1/hooks/mpesa/timeout/{momo_token}"):
        answer = hooks_api.post(path, json=daraja)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["code"] == "unknown_reference"
    assert _recorded(ctx, paid.momo.payout_id) == before + 2
    # A MoMo result naming the M-Pesa payout, on the MoMo route with the M-Pesa token.
    momo = {**paid.momo.result_body, "externalId": paid.mpesa.payout_id}
    for send in (hooks_api.post, hooks_api.put):
        answer = send(f"/v1/hooks/momo/{mpesa_token}", json=momo)
        assert answer.status_code == 404, answer.text
    assert _state(ctx, paid.momo.payout_id) == "submitted"
    assert _state(ctx, paid.mpesa.payout_id) == "submitted"
    # On their own routes the same results apply.
    assert hooks_api.post(paid.mpesa.result_path, json=paid.mpesa.result_body).status_code == 200
    assert _state(ctx, paid.mpesa.payout_id) == "confirmed"
