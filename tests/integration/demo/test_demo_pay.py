"""The demo's last act on PostgreSQL: earned money becomes available, every worker is paid in one
M-Pesa batch through the fake Daraja server whose callbacks reach a live engine API, a worker's
statement verifies and a changed copy does not, and the ledger check is clean."""

from __future__ import annotations

import uuid

from rich.console import Console

from tests.integration.simulation.test_crowd_driver import serve


def _earn(ctx, worker_id: str, minor: int) -> None:  # type: ignore[no-untyped-def]
    from engine.domain.ledger import AccountKind, AccountRef, TransactionKind, Transfer, cash, entry
    from engine.ledger.service import post

    pending = AccountRef(AccountKind.WORKER_PENDING, worker_id, "KES")
    ctx.in_unit_of_work(
        post,
        entry(f"earn:answer:demo-test-{uuid.uuid4().hex[:8]}", TransactionKind.EARN,
              Transfer(cash("KES"), pending, minor)),
    )  # fmt: skip


def test_the_demo_pays_its_crowd_and_the_statement_verifies(ctx, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from engine.api.app import create_app
    from engine.demo.demo_pay import Payee, pay_the_crowd
    from engine.ledger.pay_policy import pay_policy
    from engine.workforce.service import register_worker

    monkeypatch.setenv("KAZI_PAY_HOLD_DAYS", "0")
    pay_policy.cache_clear()
    payees = []
    for i, minor in enumerate((7_700, 4_150, 805)):
        w = ctx.in_unit_of_work(register_worker, f"pay-{i}-{uuid.uuid4().hex[:8]}", "qualified")
        _earn(ctx, w.id, minor)
        payees.append(Payee(w.handle, w.id, w.api_key))
    try:
        with serve(create_app(ctx)) as url:
            result = pay_the_crowd(ctx, payees, url, tmp_path, Console(file=None, quiet=True))
    finally:
        pay_policy.cache_clear()

    ours = {p.worker_id for p in payees}
    payouts = result["payout_batch"]["payouts"]
    assert {p["worker_id"] for p in payouts} == ours
    assert {p["state"] for p in payouts} == {"confirmed"}
    # 5 % benefits by default; M-Pesa pays whole shillings.
    by_worker = {p["worker_id"]: p for p in payouts}
    first = by_worker[payees[0].worker_id]
    assert first["benefits"]["minor"] == 385 and first["net"]["minor"] == 7_300
    assert result["statement"]["verified"]["valid"] is True
    assert result["statement"]["tampered"]["valid"] is False
    assert result["ledger_clean"] is True
