"""Pay under load on PostgreSQL: 50 workers answer one paid image job over HTTP (a live uvicorn
server, one httpx client per worker) while a thread keeps scoring it; once its earnings are
released, two payout runs race (the fake MTN MoMo posting its results back to the live server)
while a third thread runs scoring's earning step for the final tasks again and releases again
(both must post nothing new).

Checked: every accepted answer has exactly one ``earn:answer:<id>`` entry at the rate and no
unaccepted answer has one (``accepted_only``); each worker is paid once, in one of the two
batches, exactly what was available (net + benefits); the provider was asked once per payout;
nothing posted twice; the ledger check is clean.
"""

from __future__ import annotations

import dataclasses
import io
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from engine.demo.fake_providers import FakeProviders
from engine.domain.ledger import AccountKind, AccountRef, earn_answer_key
from engine.domain.money import Money, parse_amount
from tests.conftest import make_client, manual_uow
from tests.integration.payouts.conftest import payout_settings_for, random_msisdn
from tests.media_samples import png_bytes

# A MoMo market no other test pays in: the payout runs (which send every unsent payout of their
# currency) see only this test's payouts. M-Pesa pays KES only, which other tests share.
CURRENCY = "XOF"
PROVIDER = "mtn_momo"
RATE_MINOR = 2_000  # XOF 2000 (no minor unit)
IMAGES = 40
OVERLAP = 3
WORKERS = 50
SPEC = {
    "kind": "image_classification",
    "labels": ["cat", "dog"],
    "overlap": OVERLAP,
    "gold_ratio": 0,
    "pay_rate": {"amount": "2000", "currency": CURRENCY, "per": "task",
                 "policy": "accepted_only"},
}  # fmt: skip


class _KeptQueue:
    """Sends nothing: this test runs every stage itself, and a Celery worker elsewhere in the
    session must not score (or review) its job."""

    def send(self, task: str, args: Sequence[Any], queue: str) -> None:
        return None

    def ping(self) -> None:
        return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _run_all(targets: list[Callable[[], None]], timeout: float = 120) -> None:
    """Run each target in a thread; re-raise the first error any of them hit."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as error:  # noqa: BLE001 - re-raised below
                errors.append(error)

        return run

    threads = [threading.Thread(target=guarded(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not [t for t in threads if t.is_alive()], "a thread did not finish"
    if errors:
        raise errors[0]


def _paid_job(live: Any) -> str:
    from engine.jobs.intake import IncomingFile, submit_job
    from engine.ledger.service import topup
    from engine.publishing.service import begin_publishing, finish_publishing
    from engine.splitting.service import split_job
    from schemas.jobs import JobSpec

    client_id, _ = make_client(live)
    live.in_unit_of_work(topup, client_id, Money(CURRENCY, 10_000_000), "load-deposit")
    files = [(f"{i}.png", png_bytes(40 + i, 30)) for i in range(IMAGES)]
    job_id: str = submit_job(
        manual_uow(live), live.store, client_id=client_id, spec=JobSpec.model_validate(SPEC),
        files=[IncomingFile(n, io.BytesIO(b)) for n, b in files],
        max_upload_bytes=10**8, max_files=IMAGES,
    )  # fmt: skip
    assert split_job(manual_uow(live), live.store, job_id, live.tiling).value == "split"  # type: ignore[union-attr]
    assert begin_publishing(manual_uow(live), job_id) is not None
    finish_publishing(manual_uow(live), job_id, [])
    return job_id


@dataclasses.dataclass(frozen=True)
class _Worker:
    id: str
    key: str
    label: str  # what this worker answers, whatever the image


def _workers(live: Any, settings: Any) -> list[_Worker]:
    """Qualified workers (no gold), each with a confirmed MoMo method; every fifth one
    answers "dog" to everything, so some answers lose the vote and earn nothing."""
    from engine.payouts import service
    from engine.workforce.service import register_worker

    workers, numbers = [], set()
    for i in range(WORKERS):
        created = live.in_unit_of_work(
            register_worker, f"load-{uuid.uuid4().hex[:10]}", "qualified"
        )
        number = random_msisdn(PROVIDER)
        while number in numbers:
            number = random_msisdn(PROVIDER)
        numbers.add(number)
        live.in_unit_of_work(
            service.register_method, created.id, PROVIDER, number, "Load Worker", live.token_cipher
        )
        with live.uow() as uow:
            code = service.pending_code(uow, created.id, live.token_cipher)
        assert code is not None
        done = live.in_unit_of_work(
            service.confirm_method, created.id, code, live.token_cipher, settings
        )
        assert done.outcome is service.ConfirmOutcome.CONFIRMED
        workers.append(_Worker(created.id, created.api_key, "dog" if i % 5 == 0 else "cat"))
    return workers


def _answer(base_url: str, job_id: str, worker: _Worker, statuses: list[int]) -> Callable[[], None]:
    def run() -> None:
        auth = {"Authorization": f"Bearer {worker.key}"}
        with httpx.Client(base_url=base_url, headers=auth, timeout=60) as http:
            while True:
                nxt = http.post("/v1/work/next", json={"job_id": job_id})
                if nxt.status_code == 204:
                    return
                assert nxt.status_code == 200, nxt.text
                lease = nxt.json()
                body = {"client_answer_id": str(uuid.uuid4()), "answer": {"label": worker.label},
                        "time_spent_seconds": 3.0}  # fmt: skip
                sent = http.post(f"/v1/work/{lease['lease_id']}/submit", json=body)
                statuses.append(sent.status_code)
                assert sent.status_code == 201, sent.text

    return run


def _balance(live: Any, kind: AccountKind, owner: str) -> int:
    with live.uow() as uow:
        return int(uow.ledger.balance(AccountRef(kind, owner, CURRENCY)))


def test_fifty_workers_scoring_and_two_payout_runs_pay_each_answer_once(ctx: Any) -> None:
    from engine.api.app import create_app
    from engine.earnings.service import earn_for_final_tasks, release_held_earnings
    from engine.ledger.pay_policy import PayPolicy
    from engine.payouts import service
    from engine.payouts.providers.http import loopback_client
    from engine.payouts.providers.registry import ProviderRegistry
    from engine.quality.service import QualitySettings, score_job

    live = dataclasses.replace(ctx, queue=_KeptQueue())
    no_hold = PayPolicy(pay_hold_days=0)
    with FakeProviders(auto_deliver=True) as fake, _serve(create_app(live)) as base_url:
        settings = payout_settings_for(fake)
        job_id = _paid_job(live)
        workers = _workers(live, settings)

        # -- 50 workers answer while a thread keeps scoring -----------------------------------
        statuses: list[int] = []
        stages: list[str] = []
        first_score = threading.Event()

        def keep_scoring() -> None:
            quality = QualitySettings(review_threshold=0.0, review_sample_rate=0.0)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                with manual_uow(live) as uow:
                    stage = score_job(uow, job_id, quality)
                    uow.commit()
                assert stage is not None
                stages.append(stage.value)
                first_score.set()
                if stage.value != "labeling":
                    return
                time.sleep(0.01)

        def answer_after_first_score(target: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                assert first_score.wait(30)
                target()

            return run

        _run_all(
            [keep_scoring]
            + [answer_after_first_score(_answer(base_url, job_id, w, statuses)) for w in workers]
        )
        assert stages[0] == "labeling" and stages[-1] == "assembling", stages[-3:]
        assert statuses and set(statuses) == {201}
        assert len(statuses) == IMAGES * OVERLAP

        # -- what should have earned: the answers that match their task's final result --------
        with live.uow() as uow:
            finals = {r.task_id: r.final for r in uow.quality.results(job_id)}
            answers = [
                (a.id, a.task_id, a.worker_id, a.payload) for a in uow.quality.answers(job_id)
            ]
            task_ids = list(finals)
        assert len(finals) == IMAGES and None not in finals.values()
        accepted = {a for a, task, _, payload in answers if payload == finals[task]}
        assert 0 < len(accepted) < len(answers)  # some lost the vote: the policy is exercised
        with live.uow() as uow:
            posted = uow.ledger.entries([earn_answer_key(a) for a, _, _, _ in answers])
        assert set(posted) == {earn_answer_key(a) for a in accepted}
        owed: Counter[str] = Counter()
        for answer_id, _, worker_id, _ in answers:
            earned = posted.get(earn_answer_key(answer_id))
            if earned is None:
                continue
            [transfer] = earned.entry.transfers
            assert transfer.amount == RATE_MINOR
            assert transfer.credit == AccountRef(AccountKind.WORKER_PENDING, worker_id, CURRENCY)
            assert transfer.debit == AccountRef(AccountKind.CLIENT_RESERVED, job_id, CURRENCY)
            owed[worker_id] += RATE_MINOR

        # -- the hold is over (KAZI_PAY_HOLD_DAYS=0) ----------------------------------------
        while live.in_unit_of_work(release_held_earnings, None, no_hold):
            pass
        available = {w.id: _balance(live, AccountKind.WORKER_AVAILABLE, w.id) for w in workers}
        assert available == {w.id: owed[w.id] for w in workers}
        assert all(_balance(live, AccountKind.WORKER_PENDING, w.id) == 0 for w in workers)

        # -- two payout runs race, while scoring and releasing run again --------------------
        registry = ProviderRegistry(live.settings, settings, client=loopback_client())
        urls = service.CallbackUrls(base_url, live.settings.signing_secret)
        ids = [w.id for w in workers]
        start = threading.Barrier(3)
        runs_done = threading.Event()
        reports: list[service.RunReport] = []
        reposted: list[object] = []

        def pay(order: list[str]) -> Callable[[], None]:
            def run() -> None:
                start.wait(30)
                reports.append(
                    service.run_payouts(
                        live.uow, service.RunRequest(CURRENCY), registry, settings,
                        live.token_cipher, urls, worker_ids=order,
                    )
                )  # fmt: skip

            return run

        def runs() -> None:
            # The two runs visit the workers in opposite orders, so they meet midway.
            _run_all([pay(ids), pay(ids[::-1])])
            runs_done.set()

        def rescore() -> None:
            start.wait(30)
            while not runs_done.is_set():
                with manual_uow(live) as uow:
                    reposted.extend(earn_for_final_tasks(uow, job_id, task_ids))
                    uow.commit()
                live.in_unit_of_work(release_held_earnings, None, no_hold)

        _run_all([runs, rescore])
        assert reposted == []

        paid_in = Counter(p["worker_id"] for r in reports for p in r.paid)
        earners = {w for w, minor in available.items() if minor > 0}
        assert paid_in == Counter(earners)  # each earner in exactly one of the two batches

        # The fake posts each result back to the live server; wait until all are applied.
        def payouts_of(worker_id: str) -> list[tuple[str, int, int, str]]:
            with live.uow() as uow:
                return [
                    (p.id, p.net_minor, p.benefits_minor, p.state)
                    for p in uow.payouts.payouts_of_worker(worker_id)
                ]

        deadline = time.monotonic() + 30
        while any(s != "confirmed" for w in earners for *_, s in payouts_of(w)):
            assert time.monotonic() < deadline, "results did not all arrive"
            time.sleep(0.1)

        payout_ids = set()
        for w in workers:
            mine = payouts_of(w.id)
            if w.id not in earners:
                assert mine == []
                continue
            [(payout_id, net, share, state)] = mine
            payout_ids.add(payout_id)
            assert state == "confirmed"
            assert net + share == available[w.id]
            assert share == available[w.id] * 500 // 10_000
            assert _balance(live, AccountKind.WORKER_AVAILABLE, w.id) == 0
            assert _balance(live, AccountKind.WORKER_BENEFITS, w.id) == share
            sent = fake.payment(PROVIDER, payout_id)
            assert sent is not None and sent.requests == 1  # asked once: no run resent it
            assert parse_amount(sent.amount, CURRENCY) == Money(CURRENCY, net)
        mine_sent = [p for p in fake.payments.values() if p.key in payout_ids]
        assert len(mine_sent) == len(earners)
        assert set(Counter(p.msisdn for p in mine_sent).values()) == {1}
        transit = AccountRef(AccountKind.PROVIDER_IN_TRANSIT, PROVIDER, CURRENCY)
        with live.uow() as uow:
            assert uow.ledger.balance(transit) == 0
            report = uow.ledger.check()
        assert report.clean, report.differences
