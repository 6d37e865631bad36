"""Two payout runs racing on PostgreSQL pay nobody twice; a run killed with SIGKILL in the
middle of its batch and run again pays every worker exactly once (the provider is asked again
with the same idempotency key, MoMo's X-Reference-Id, never a new one). The ledger check is
clean after. Each test pays in a currency no other test uses (MoMo markets: M-Pesa pays KES
only), so the runs, which send every unsent payout of their currency, see only its payouts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

from engine.ledger.service import check
from tests.conftest import REPO_ROOT
from tests.integration.payouts.conftest import Payouts, available, in_transit

MOMO = "mtn_momo"
TRANSFER_PATH = "/disbursement/v1_0/transfer"
KILL_CURRENCY = "XAF"  # a MoMo market no other test pays in


def _ledger_clean(ctx: Any) -> None:
    with ctx.uow() as uow:
        report = check(uow)
    assert report.clean, report.differences


def test_two_concurrent_runs_pay_each_worker_once(payouts: Payouts, api: Any) -> None:
    currency = "GHS"
    workers = [payouts.worker(currency, 10_000 + i, provider=MOMO)[0] for i in range(8)]
    start = threading.Barrier(2)
    reports: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            reports.append(payouts.run(currency, workers))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    paid = Counter(p["worker_id"] for r in reports for p in r.paid)
    assert paid == Counter(workers)  # each worker in exactly one of the two batches
    for w in workers:
        assert len(payouts.payouts_of(w)) == 1
    mine = {p.id for w in workers for p in payouts.payouts_of(w)}
    sent = [payouts.fake.payment(MOMO, key) for key in mine]
    # Each payout was sent once: the runs never both sent one (the send claim), so nothing
    # rests on the provider recognising a duplicate.
    assert [p.requests if p else 0 for p in sent] == [1] * len(workers)
    msisdns = Counter(p.msisdn for p in payouts.fake.payments.values())
    assert all(count == 1 for count in msisdns.values())
    payouts.deliver(api)
    assert all(payouts.payouts_of(w)[0].state == "confirmed" for w in workers)
    _ledger_clean(payouts.ctx)


def _cli(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "payouts", "run", "--currency", KILL_CURRENCY,
         "--provider", MOMO, "--json"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip


def test_kill_9_mid_batch_then_rerun_pays_everyone_exactly_once(payouts: Payouts, api: Any) -> None:
    currency = KILL_CURRENCY
    workers = {payouts.worker(currency, 500_000 + i * 100, provider=MOMO)[0] for i in range(6)}
    env = {
        **os.environ,
        **payouts.fake.settings_env(),
        "KAZI_CALLBACK_ALLOWED_HOSTS": "127.0.0.1",
        "KAZI_PUBLIC_URL": "http://testserver",
        # The claim of a payout being sent lasts 2 x 2 + 5 s: the one in flight at the kill
        # is sent again by the first run after that.
        "KAZI_PROVIDER_TIMEOUT_SECONDS": "2",
    }
    payouts.fake.hang_next(1000, 1.0)  # every answer slow: the kill lands mid-batch
    first = _cli(env)
    deadline = time.monotonic() + 120
    while sum(1 for m, p in payouts.fake.requests if p == TRANSFER_PATH) < 3:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the run sent nothing"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    mine = [p for w in workers for p in payouts.payouts_of(w)]
    assert len(mine) == len(workers)  # every payout was posted before sending began
    assert {p.state for p in mine} <= {"posted", "submitted"}
    assert any(p.state == "posted" for p in mine)  # the kill left some unsent
    claimed = {p.id for p in mine if p.state == "posted" and p.send_attempts == 1}
    assert len(claimed) == 1  # the request in flight when the run died
    payouts.fake.hang_next(0, 0)
    resent: set[str] = set()
    for _ in range(30):  # run again until every payout is sent (the claim runs out in 9 s)
        rerun = _cli(env)
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err.decode()[-2000:]
        report = json.loads(out)
        assert not {p["worker_id"] for p in report["paid"]} & workers  # nothing posted twice
        resent |= {k for k, v in report["sent"].items() if v == "submitted"}
        states = {p.state for w in workers for p in payouts.payouts_of(w)}
        if states <= {"submitted"}:
            break
        time.sleep(1)
    assert resent == {p.id for p in mine if p.state == "posted"}
    [in_flight] = claimed
    assert payouts.fake.payment(MOMO, in_flight).requests == 2  # type: ignore[union-attr]
    payouts.deliver(api)
    numbers = Counter(
        p.msisdn for p in payouts.fake.payments.values() if p.key in {m.id for m in mine}
    )
    assert len(numbers) == len(workers) and set(numbers.values()) == {1}
    for w in workers:
        [payout] = payouts.payouts_of(w)
        assert payout.state == "confirmed"
        assert payouts.balance(available(w, currency)) == 0
    assert payouts.balance(in_transit(MOMO, currency)) == 0
    _ledger_clean(payouts.ctx)
