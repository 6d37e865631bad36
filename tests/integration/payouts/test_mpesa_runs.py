"""M-Pesa payout runs against the fake Daraja: posted then sent, results by callback, each
exactly once; failures return the money; timeouts settle later; unknown references answer
404 and are recorded."""

from __future__ import annotations

import uuid
from typing import Any

from engine.domain.ledger import cash
from engine.domain.payout_states import PayoutState
from engine.payouts import service
from tests.integration.payouts.conftest import Payouts, available, benefits, in_transit

CURRENCY = "KES"


def test_run_pays_confirmed_workers_once_and_callbacks_settle(payouts: Payouts, api: Any) -> None:
    w1, n1 = payouts.worker(CURRENCY, 20_050)  # KES 200.50
    w2, _ = payouts.worker(CURRENCY, 5_000, confirm=False)  # unconfirmed: refused
    w3, _ = payouts.worker(CURRENCY, 900)  # below the minimum
    transit_before = payouts.balance(in_transit("mpesa", CURRENCY))
    cash_before = payouts.balance(cash(CURRENCY))

    report = payouts.run(CURRENCY, [w1, w2, w3], min_amount="10.00")

    assert [p["worker_id"] for p in report.paid] == [w1]
    reasons = {s["worker_id"]: s["reason"] for s in report.skipped}
    assert reasons == {w2: "unconfirmed_method", w3: "below_minimum"}
    [payout] = payouts.payouts_of(w1)
    assert payout.state == PayoutState.SUBMITTED.value
    # 5 % of 200.50 = 10.03 saved (10.025 rounds half up); 190.47 -> KES 190 sent, 0.47 stays.
    assert (payout.benefits_minor, payout.net_minor) == (1_003, 19_000)
    assert payouts.balance(available(w1, CURRENCY)) == 47
    assert payouts.balance(benefits(w1, CURRENCY)) == 1_003
    sent = payouts.fake.payment("mpesa", payout.id)
    assert sent is not None and sent.msisdn == n1 and sent.amount == "190"

    callbacks = payouts.fake.take_callbacks()
    answers = payouts.deliver(api, callbacks)
    assert [a.status_code for a in answers] == [200]
    assert answers[0].json()["outcome"] == "applied"
    # The same callback again: a no-op.
    again = payouts.deliver(api, callbacks)
    assert again[0].status_code == 200 and again[0].json()["outcome"] == "duplicate"
    [payout] = payouts.payouts_of(w1)
    assert payout.state == PayoutState.CONFIRMED.value and payout.provider_transaction
    assert payouts.balance(in_transit("mpesa", CURRENCY)) == transit_before
    assert payouts.balance(cash(CURRENCY)) == cash_before - 19_000
    # A second run finds nothing more to pay (47 cents is below KES 10).
    second = payouts.run(CURRENCY, [w1], min_amount="10.00")
    assert second.paid == [] and len(payouts.payouts_of(w1)) == 1


def test_failed_result_returns_the_net_and_keeps_the_share(payouts: Payouts, api: Any) -> None:
    w, number = payouts.worker(CURRENCY, 10_000)
    payouts.fake.fail_msisdns.add(number)
    payouts.run(CURRENCY, [w])
    [answer] = payouts.deliver(api)
    assert answer.status_code == 200 and answer.json()["state"] == "failed"
    assert payouts.balance(available(w, CURRENCY)) == 9_500  # the net is back
    assert payouts.balance(benefits(w, CURRENCY)) == 500  # the share stays saved
    # Paid again next run (the failure closed the open payout).
    payouts.fake.fail_msisdns.clear()
    again = payouts.run(CURRENCY, [w])
    assert len(again.paid) == 1


def test_result_contradicting_a_final_payout_is_refused(payouts: Payouts, api: Any) -> None:
    w, _ = payouts.worker(CURRENCY, 10_000)
    payouts.run(CURRENCY, [w])
    [callback] = payouts.fake.take_callbacks()
    assert payouts.deliver(api, [callback])[0].status_code == 200
    flipped = {"Result": {**callback.body["Result"], "ResultCode": 2001}}
    flipped["Result"].pop("ResultParameters")
    answer = api.post(callback.url.split("testserver", 1)[1], json=flipped)
    assert answer.status_code == 409, answer.text
    [payout] = payouts.payouts_of(w)
    assert payout.state == "confirmed"
    with payouts.ctx.uow() as uow:
        outcomes = [r.outcome for r in uow.payouts.results_of(payout.id)]
    assert outcomes == ["applied", "refused"]


def test_changed_amount_in_callback_is_refused(payouts: Payouts, api: Any) -> None:
    w, _ = payouts.worker(CURRENCY, 10_000)
    payouts.run(CURRENCY, [w])
    [callback] = payouts.fake.take_callbacks()
    for item in callback.body["Result"]["ResultParameters"]["ResultParameter"]:
        if item["Key"] == "TransactionAmount":
            item["Value"] += 1
    [answer] = payouts.deliver(api, [callback])
    assert answer.status_code == 409 and "not the payout's" in answer.json()["detail"]
    [payout] = payouts.payouts_of(w)
    assert payout.state == "submitted"


def test_unknown_reference_is_404_and_recorded(payouts: Payouts, api: Any) -> None:
    w, _ = payouts.worker(CURRENCY, 10_000)
    payouts.run(CURRENCY, [w])
    [callback] = payouts.fake.take_callbacks()
    # A valid URL for a payout id that does not exist.
    missing = str(uuid.uuid4())
    token = service.callback_token(missing, payouts.ctx.settings.signing_secret)
    body = {"Result": {**callback.body["Result"], "OriginatorConversationID": missing}}
    answer = api.post(f"/v1/hooks/mpesa/result/{token}", json=body)
    assert answer.status_code == 404 and answer.json()["code"] == "unknown_reference"
    # A body naming another payout than its URL: refused the same way, never applied.
    path = callback.url.split("testserver", 1)[1]
    other = {"Result": {**callback.body["Result"], "OriginatorConversationID": missing}}
    assert api.post(path, json=other).status_code == 404
    with payouts.ctx.uow() as uow:
        unknown = [r.reference for r in uow.payouts.results_with_outcome("unknown_reference")]
    assert unknown.count(missing) == 2
    [payout] = payouts.payouts_of(w)
    assert payout.state == "submitted"


def test_provider_hangs_then_rerun_resends_same_key_and_callback_settles_once(
    payouts: Payouts, api: Any
) -> None:
    payouts.settings = payouts.settings.model_copy(update={"provider_timeout_seconds": 0.5})
    from engine.payouts.providers.http import loopback_client
    from engine.payouts.providers.registry import ProviderRegistry

    payouts.registry = ProviderRegistry(
        payouts.ctx.settings, payouts.settings, client=loopback_client()
    )
    w, _ = payouts.worker(CURRENCY, 10_000)
    payouts.fake.hang_next(1, 2.0)  # processed, but answered after the client gave up
    first = payouts.run(CURRENCY, [w])
    [payout] = payouts.payouts_of(w)
    assert payout.state == PayoutState.UNKNOWN.value
    assert first.sent[payout.id] == "unknown"
    # The next run sends the same payout again (same OriginatorConversationID), posts nothing.
    second = payouts.run(CURRENCY, [w])
    assert second.paid == [] and payout.id in second.resent
    assert {s["reason"] for s in second.skipped} == {"open_payout"}
    paid = payouts.fake.payment("mpesa", payout.id)
    assert paid is not None and paid.requests == 2  # asked twice, paid once
    answers = payouts.deliver(api)
    assert [a.json()["outcome"] for a in answers] == ["applied"]
    [payout] = payouts.payouts_of(w)
    assert payout.state == "confirmed"
    assert payouts.balance(available(w, CURRENCY)) == 0


def test_queue_timeout_leaves_the_payout_open(payouts: Payouts, api: Any) -> None:
    w, _ = payouts.worker(CURRENCY, 10_000)
    payouts.run(CURRENCY, [w])
    [callback] = payouts.fake.take_callbacks()
    path = callback.url.split("testserver", 1)[1].replace("/result/", "/timeout/")
    answer = api.post(path, json={"Result": {"ResultCode": 1, "ResultDesc": "timeout"}})
    assert answer.status_code == 200 and answer.json()["outcome"] == "pending"
    [payout] = payouts.payouts_of(w)
    assert payout.state == "submitted"


def test_benefits_withdrawal_is_a_payout(payouts: Payouts, api: Any) -> None:
    w, _ = payouts.worker(CURRENCY, 20_000)
    payouts.run(CURRENCY, [w])
    payouts.deliver(api)
    assert payouts.balance(benefits(w, CURRENCY)) == 1_000
    report = payouts.run(CURRENCY, [w], benefits=True)
    assert len(report.paid) == 1 and report.paid[0]["net"]["minor"] == 1_000
    payouts.deliver(api)
    assert payouts.balance(benefits(w, CURRENCY)) == 0
    states = sorted((p.source, p.state) for p in payouts.payouts_of(w))
    assert states == [("available", "confirmed"), ("benefits", "confirmed")]


def test_match_comes_from_programme_funds(payouts: Payouts) -> None:
    payouts.settings = payouts.settings.model_copy(update={"benefits_match_bps": 10_000})
    w, _ = payouts.worker(CURRENCY, 10_000)
    report = payouts.run(CURRENCY, [w])
    assert report.paid[0]["match"]["minor"] == 500
    assert payouts.balance(benefits(w, CURRENCY)) == 1_000  # 500 share + 500 match


def test_unconfigured_provider_moves_no_money(payouts: Payouts) -> None:
    from engine.payouts.providers.http import loopback_client
    from engine.payouts.providers.registry import ProviderRegistry

    unset = payouts.settings.model_copy(update={"momo_base_url": ""})
    payouts.registry = ProviderRegistry(payouts.ctx.settings, unset, client=loopback_client())
    w, _ = payouts.worker("UGX", 10_000, provider="mtn_momo")
    report = payouts.run("UGX", [w])
    assert report.skipped == [{"worker_id": w, "reason": "provider_not_configured"}]
    assert payouts.payouts_of(w) == [] and payouts.balance(available(w, "UGX")) == 10_000


def _registry_with(payouts: Payouts, **changes: object) -> None:
    from engine.payouts.providers.http import loopback_client
    from engine.payouts.providers.registry import ProviderRegistry

    payouts.settings = payouts.settings.model_copy(update=changes)
    payouts.registry = ProviderRegistry(
        payouts.ctx.settings, payouts.settings, client=loopback_client()
    )


def test_refused_first_request_fails_and_returns_the_money(payouts: Payouts) -> None:
    _registry_with(payouts, mpesa_security_credential="not-the-credential")
    w, _ = payouts.worker(CURRENCY, 10_000)
    report = payouts.run(CURRENCY, [w])
    [payout] = payouts.payouts_of(w)
    assert report.sent[payout.id] == "failed" and "SecurityCredential" in payout.result_detail
    assert payouts.balance(available(w, CURRENCY)) == 9_500
    assert payouts.fake.payment("mpesa", payout.id) is None  # nothing was paid


def test_refused_resend_is_not_a_failure(payouts: Payouts, api: Any) -> None:
    # The first request reached the provider but its answer was lost; the resend is refused
    # (as a provider may refuse a duplicate): the payout stays open, its result settles it.
    _registry_with(payouts, provider_timeout_seconds=0.5)
    w, _ = payouts.worker(CURRENCY, 10_000)
    payouts.fake.hang_next(1, 2.0)
    payouts.run(CURRENCY, [w])
    _registry_with(payouts, mpesa_security_credential="not-the-credential")
    payouts.run(CURRENCY, [w])
    [payout] = payouts.payouts_of(w)
    assert payout.state == "unknown" and payout.send_attempts == 2
    assert [a.json()["state"] for a in payouts.deliver(api)] == ["confirmed"]
    assert payouts.balance(available(w, CURRENCY)) == 0


def test_run_in_another_currency_skips_mpesa_workers_and_posts_nothing_for_them(
    payouts: Payouts,
) -> None:
    # M-Pesa B2C pays KES only: a UGX balance is never sent as Daraja's Amount (shillings).
    mpesa_worker, _ = payouts.worker("UGX", 10_000)
    momo_worker, _ = payouts.worker("UGX", 10_000, provider="mtn_momo")
    report = payouts.run("UGX", [mpesa_worker, momo_worker])
    assert report.skipped == [
        {
            "worker_id": mpesa_worker,
            "reason": "currency_not_paid",
            "detail": "mpesa pays KES only, not UGX",
        }
    ]
    assert [p["worker_id"] for p in report.paid] == [momo_worker]
    assert payouts.payouts_of(mpesa_worker) == []
    assert payouts.balance(available(mpesa_worker, "UGX")) == 10_000
    assert payouts.balance(in_transit("mpesa", "UGX")) == 0
    assert not any(p.endswith("paymentrequest") for _, p in payouts.fake.requests)


def test_cli_refuses_mpesa_in_another_currency_with_exit_2(payouts: Payouts) -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    w, _ = payouts.worker("UGX", 10_000)
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "payouts", "run", "--currency", "UGX",
         "--provider", "mpesa", "--json"],
        cwd=REPO_ROOT,
        env={**os.environ, **payouts.fake.settings_env()},
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr.decode()[-2000:]
    error = json.loads(done.stdout)
    assert error["code"] == "currency_not_paid" and "KES" in error["detail"]
    assert payouts.payouts_of(w) == [] and payouts.fake.requests == []
