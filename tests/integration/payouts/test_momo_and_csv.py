"""MTN MoMo disbursement against the fake (202, 409 on a reused reference, status queries,
callbacks) and the CSV export with its result file (a changed amount or an unknown reference
is refused and reported, never applied)."""

from __future__ import annotations

import json
from typing import Any

from engine.domain.money import Money
from engine.payouts import service
from engine.payouts.providers import PayoutOrder, SendOutcome
from engine.payouts.providers.http import loopback_client
from engine.payouts.providers.mtn_momo import MtnMomoDisbursement
from engine.payouts.result_import import import_results
from tests.integration.payouts.conftest import Payouts, available, benefits, in_transit

UGX = "UGX"  # no minor unit


def test_momo_run_callback_and_duplicate(payouts: Payouts, api: Any) -> None:
    w, number = payouts.worker(UGX, 50_000, provider="mtn_momo")
    report = payouts.run(UGX, [w])
    assert report.paid[0]["net"]["minor"] == 47_500  # 5 % saved, no rounding to whole units
    [payout] = payouts.payouts_of(w)
    paid = payouts.fake.payment("mtn_momo", payout.id)
    assert paid is not None and paid.amount == "47500" and paid.msisdn == number
    callbacks = payouts.fake.take_callbacks()
    assert [a.json()["outcome"] for a in payouts.deliver(api, callbacks)] == ["applied"]
    assert [a.json()["outcome"] for a in payouts.deliver(api, callbacks)] == ["duplicate"]
    # MoMo may call back with PUT: the same route, the same once-only rule.
    again = api.put(callbacks[0].url.split("testserver", 1)[1], json=callbacks[0].body)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert payouts.balance(available(w, UGX)) == 0
    assert payouts.balance(benefits(w, UGX)) == 2_500


def test_momo_409_on_reused_reference_is_accepted_then_status_settles(
    payouts: Payouts, api: Any
) -> None:
    payouts.fake.keep_pending = True
    w, _ = payouts.worker(UGX, 10_000, provider="mtn_momo")
    payouts.run(UGX, [w])
    [payout] = payouts.payouts_of(w)
    assert payout.state == "submitted"
    adapter = payouts.registry("mtn_momo")
    order = PayoutOrder(
        payout.id, "+256772000000", "x", Money(UGX, 9_500), "r", "http://testserver/x", ""
    )
    again = adapter.send(order)
    assert again.outcome is SendOutcome.ACCEPTED and again.code == "409"
    assert payouts.fake.payment("mtn_momo", payout.id).requests == 2  # type: ignore[union-attr]
    # Still pending: reconcile asks and changes nothing.
    [pending] = service.reconcile(payouts.ctx.uow, payouts.registry, UGX)
    assert pending.outcome is service.ResultOutcome.PENDING
    payouts.fake.settle_pending()
    payouts.fake.take_callbacks()  # dropped: the status query alone settles it
    [settled] = service.reconcile(payouts.ctx.uow, payouts.registry, UGX)
    assert settled.outcome is service.ResultOutcome.APPLIED and settled.state == "confirmed"
    assert service.reconcile(payouts.ctx.uow, payouts.registry, UGX) == []


def test_momo_failure_returns_money(payouts: Payouts, api: Any) -> None:
    w, number = payouts.worker(UGX, 10_000, provider="mtn_momo")
    payouts.fake.fail_msisdns.add(number)
    payouts.run(UGX, [w])
    [answer] = payouts.deliver(api)
    assert answer.json()["state"] == "failed"
    assert payouts.balance(available(w, UGX)) == 9_500


def test_momo_hang_leaves_unknown_status_query_settles(payouts: Payouts) -> None:
    settings = payouts.settings
    adapter = MtnMomoDisbursement(
        payouts.fake.base_url,
        settings.momo_subscription_key,
        settings.momo_api_user,
        settings.momo_api_key,
        loopback_client(),
        timeout=0.5,
    )
    payouts.registry._cached.cache_clear()
    payouts.registry._cached = lambda name: adapter  # type: ignore[assignment,method-assign]
    w, _ = payouts.worker(UGX, 10_000, provider="mtn_momo")
    payouts.fake.hang_next(1, 2.0)
    payouts.run(UGX, [w])
    [payout] = payouts.payouts_of(w)
    assert payout.state == "unknown"
    [settled] = service.reconcile(payouts.ctx.uow, payouts.registry, UGX)
    assert settled.outcome is service.ResultOutcome.APPLIED
    # The callback that follows is a duplicate.
    [callback] = payouts.fake.take_callbacks()
    with payouts.ctx.uow() as uow:
        report = service.apply_result(
            uow,
            service.ProviderResult("momo", payout.id, SendOutcome.CONFIRMED, body=callback.body),
        )
        uow.commit()
    assert report.outcome is service.ResultOutcome.DUPLICATE


def test_momo_callback_with_changed_amount_refused(payouts: Payouts, api: Any) -> None:
    w, _ = payouts.worker(UGX, 10_000, provider="mtn_momo")
    payouts.run(UGX, [w])
    [callback] = payouts.fake.take_callbacks()
    callback.body["amount"] = "9501"
    [answer] = payouts.deliver(api, [callback])
    assert answer.status_code == 409
    [payout] = payouts.payouts_of(w)
    assert payout.state == "submitted"


def test_csv_export_and_result_file(payouts: Payouts) -> None:
    currency = "TZS"
    w1, n1 = payouts.worker(currency, 100_000, provider="csv:bank")
    w2, _ = payouts.worker(currency, 200_000, provider="csv:bank")
    w3, _ = payouts.worker(currency, 300_000, provider="csv:bank")
    transit_before = payouts.balance(in_transit("csv:bank", currency))
    report = payouts.run(currency, [w1, w2, w3])
    text = report.exports["csv:bank"]
    lines = text.strip().splitlines()
    assert lines[0] == "payout_id,account_name,msisdn,amount,currency,remarks"
    assert len(lines) == 4 and n1 in text
    ids = {p.worker_id: p for w in (w1, w2, w3) for p in payouts.payouts_of(w)}
    assert {p.state for p in ids.values()} == {"exported"}
    # A second run does not export them again.
    assert payouts.run(currency, [w1, w2, w3]).exports == {}
    p1, p2, p3 = ids[w1], ids[w2], ids[w3]
    result = "\n".join(
        [
            "payout_id,amount,currency,status,reference,detail",
            f"{p1.id},950.00,TZS,paid,BANK1,",
            f"{p2.id},1.00,TZS,paid,BANK2,changed amount",
            f"{p3.id},2850.00,TZS,failed,BANK3,account closed",
            "00000000-0000-4000-8000-000000000000,1.00,TZS,paid,BANK4,",
        ]
    )
    first = payouts.ctx.in_unit_of_work(import_results, result)
    assert first.applied == 2 and first.duplicates == 0
    refused = {r["line"]: r["reason"] for r in first.refused}
    assert set(refused) == {3, 5} and "not the payout's" in refused[3]
    again = payouts.ctx.in_unit_of_work(import_results, result)
    assert again.applied == 0 and again.duplicates == 2 and len(again.refused) == 2
    states = {w: payouts.payouts_of(w)[0].state for w in (w1, w2, w3)}
    assert states == {w1: "confirmed", w2: "exported", w3: "failed"}
    assert payouts.balance(available(w3, currency)) == 285_000
    # Only p2's net is still in transit.
    assert payouts.balance(in_transit("csv:bank", currency)) == transit_before + p2.net_minor


def test_export_batch_rewrites_the_file(payouts: Payouts) -> None:
    w, _ = payouts.worker("RWF", 5_000, provider="csv:wallet")
    report = payouts.run("RWF", [w])
    with payouts.ctx.uow() as uow:
        files = service.export_batch(uow, report.batch_id, payouts.ctx.token_cipher)
    assert files == report.exports
    json.dumps(report.as_json())  # the report is JSON
