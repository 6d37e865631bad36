"""The demo's last act: the simulated crowd is paid.

After delivery the hold is over at once (the demo runs with ``KAZI_PAY_HOLD_DAYS=0``), each
worker's earnings are shown, every worker registers and confirms an M-Pesa number, one payout
batch goes to a local fake of Safaricom's Daraja B2C API (engine/demo/fake_providers.py: the
documented request and result shapes), whose result callbacks reach the running engine API and
settle each payout, and one worker's income statement is fetched, verified through the public
verify route, and shown to fail verification once a figure in it is changed.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

CURRENCY = "KES"
DEPOSIT = "50000.00"  # the demo client's prepaid funds, KES
TRANSCRIPTION_PAY = {"amount": "15.00", "currency": CURRENCY, "per": "task",
                     "policy": "accepted_only", "training_amount": "5.00",
                     "review_amount": "4.00"}  # fmt: skip
BOXES_PAY = {"amount": "3.00", "currency": CURRENCY, "per": "box", "policy": "accepted_only",
             "training_amount": "2.00", "review_amount": "2.00"}  # fmt: skip


@dataclass(frozen=True)
class Payee:
    handle: str
    worker_id: str
    api_key: str


def demo_msisdn(index: int) -> str:
    """Numbers in Safaricom's 07xx range, one per simulated worker (never dialled: the
    provider is the local fake)."""
    return f"+2547{10_000_000 + index:08d}"


def fund_client(ctx: Any, client_id: str) -> None:
    from engine.domain.money import parse_amount
    from engine.ledger.service import topup

    ctx.in_unit_of_work(topup, client_id, parse_amount(DEPOSIT, CURRENCY), "demo-deposit")


def pay_the_crowd(
    ctx: Any, payees: list[Payee], api_url: str, out_dir: Path, console: Console
) -> dict[str, Any]:
    from engine.demo.fake_providers import FakeProviders, give_demo_method
    from engine.earnings.service import earnings_for_worker, release_held_earnings
    from engine.ledger.service import check
    from engine.payouts import service as payouts
    from engine.payouts.providers.http import loopback_client
    from engine.payouts.providers.registry import ProviderRegistry

    out_dir.mkdir(parents=True, exist_ok=True)
    released = ctx.in_unit_of_work(release_held_earnings)
    earned = {p.worker_id: ctx.in_unit_of_work(earnings_for_worker, p.worker_id) for p in payees}
    console.rule("pay")
    console.print(f"{released} earnings past their hold moved to available")
    console.print(_earnings_table(payees, earned))

    for i, p in enumerate(payees):
        give_demo_method(ctx, p.worker_id, demo_msisdn(i), "mpesa")
    with FakeProviders(auto_deliver=True) as fake:
        settings = fake.payout_settings()
        registry = ProviderRegistry(ctx.settings, settings, client=loopback_client())
        report = payouts.run_payouts(
            ctx.uow,
            payouts.RunRequest(CURRENCY, None, "mpesa", requested_by="kazi demo"),
            registry, settings, ctx.token_cipher,
            payouts.CallbackUrls(api_url, ctx.settings.signing_secret),
            worker_ids=[p.worker_id for p in payees],
        )  # fmt: skip
        batch = _wait_settled(ctx, report.batch_id)
        paid_by_fake = fake.paid()
    (out_dir / f"payout-batch-{report.batch_id}.json").write_text(json.dumps(batch, indent=2))
    console.print(_batch_table(batch, {p.worker_id: p.handle for p in payees}))
    console.print(f"M-Pesa B2C requests received by the fake provider: {len(paid_by_fake)}; "
                  f"batch {report.batch_id}: {batch.get('state')}")  # fmt: skip

    statement = _verified_statement(payees[0], api_url, out_dir, console)
    ledger_report = ctx.in_unit_of_work(check)
    console.print(f"ledger check: {'clean' if ledger_report.clean else 'DIFFERENCES'} "
                  f"({ledger_report.as_json().get('transactions')} transactions)")  # fmt: skip
    return {
        "earnings": {p.handle: earned[p.worker_id].get("balances") for p in payees},
        "payout_batch": batch,
        "statement": statement,
        "ledger_clean": ledger_report.clean,
    }


def _earnings_table(payees: list[Payee], earned: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="what each simulated worker earned")
    for col in ("worker", "answers paid", "answers unpaid", "reviews", "pending", "available"):
        table.add_column(col, no_wrap=col == "worker")
    for p in payees:
        e = earned[p.worker_id]
        answers = e.get("answers", [])
        paid = sum(1 for a in answers if a.get("status") == "earned")
        unpaid = sum(1 for a in answers if a.get("status") == "unpaid")
        reviews = sum(1 for r in e.get("reviews", []) if r.get("status") == "earned")
        row: dict[str, Any] = next(
            (b for b in e.get("balances", []) if b["currency"] == CURRENCY), {}
        )
        table.add_row(p.handle, str(paid), str(unpaid), str(reviews),
                      row.get("pending", {}).get("text", "-"),
                      row.get("available", {}).get("text", "-"))  # fmt: skip
    return table


def _wait_settled(ctx: Any, batch_id: str, timeout: float = 60) -> dict[str, Any]:
    """The fake posts each result to the engine's callback route; wait until none is open."""
    from engine.payouts.service import batch_view

    deadline = time.monotonic() + timeout
    while True:
        with ctx.uow() as uow:
            view = batch_view(uow, batch_id)
        open_ = [
            p for p in view.get("payouts", []) if p.get("state") not in ("confirmed", "failed")
        ]
        if not open_ or time.monotonic() > deadline:
            return view
        time.sleep(0.5)


def _batch_table(batch: dict[str, Any], handles: dict[str, str]) -> Table:
    table = Table(title=f"payout batch {batch['batch_id'][:8]} (M-Pesa B2C through the fake)")
    for col in ("worker", "sent", "benefits saved", "state", "M-Pesa transaction"):
        table.add_column(col, no_wrap=col == "worker")
    for p in batch["payouts"]:
        who = handles.get(p["worker_id"], p["worker_id"][:8])
        receipt = str(p.get("provider_transaction") or "")
        table.add_row(who, p["net"]["text"], p["benefits"]["text"], p["state"], receipt)
    return table


def _verified_statement(
    payee: Payee, api_url: str, out_dir: Path, console: Console
) -> dict[str, Any]:
    month = datetime.now(UTC).strftime("%Y-%m")
    auth = {"Authorization": f"Bearer {payee.api_key}"}
    with httpx.Client(base_url=api_url, timeout=30) as http:
        got = http.get(f"/v1/work/statements/{month}", headers=auth)
        got.raise_for_status()
        statement = got.json()
        html = http.get(f"/v1/work/statements/{month}", headers=auth, params={"format": "html"})
        verdict = http.post("/v1/statements/verify", json=statement).json()
        tampered = copy.deepcopy(statement)
        _raise_first_amount(tampered)
        forged = http.post("/v1/statements/verify", json=tampered).json()
    (out_dir / f"statement-{payee.handle}-{month}.json").write_text(json.dumps(statement, indent=2))
    if html.status_code == 200:
        (out_dir / f"statement-{payee.handle}-{month}.html").write_text(html.text)
    console.print(
        f"income statement of {payee.handle} for {month}: verify says "
        f"valid={verdict.get('valid')} ({verdict.get('reason')}); with one amount changed: "
        f"valid={forged.get('valid')} ({forged.get('reason')})"
    )
    return {"month": month, "verified": verdict, "tampered": forged,
            "file": str(out_dir / f"statement-{payee.handle}-{month}.json")}  # fmt: skip


def _raise_first_amount(document: Any) -> bool:
    """Add one minor unit to the first amount in the statement (a forger's edit)."""
    if isinstance(document, dict):
        if isinstance(document.get("minor"), int) and not isinstance(document["minor"], bool):
            document["minor"] += 100
            return True
        return any(_raise_first_amount(v) for v in document.values())
    if isinstance(document, list):
        return any(_raise_first_amount(v) for v in document)
    return False
