"""Fault injection on a whole stack: real PostgreSQL, Redis, API and worker processes, killed
or stopped while a real audio job runs, each scenario on its own private stack and job.

Every job must still reach labeling; simulated workers then answer every task over the worker
API until the job is delivered. Checked: each audio task has exactly one draft, each task has
``overlap`` answers from distinct workers, and every accepted submit has its answer row (none
lost, none doubled). The jobs are paid (a funded client, a pay rate per task): each answer earns
exactly once (one ``earn:answer:<id>`` entry at the rate) and ``kazi ledger check`` is clean
after the fault. Printed: seconds from the fault's end to the job's next progress (a stage
change or a new draft).

The four scenarios run at the same time, each on its own stack (a fault on a shared stack would
hit the other jobs too), so their waits for the stall sweep overlap; each test collects its
scenario's outcome. Run: ``.venv/bin/pytest -s tests/e2e/test_fault_injection.py``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.fault_stack import (
    KAZI,
    SETTLED,
    FaultStack,
    JobProgress,
    SubmitRecord,
    answer_every_task,
    write_speech_recording,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

OVERLAP = 2
SIMULATED_WORKERS = 3
REDIS_DOWN_SECONDS = 10.0
POSTGRES_DOWN_SECONDS = 20.0
# The recovery bound: a stalled stage is resent once it has been quiet for stage_stall_seconds,
# found by a sweep that runs every stall_sweep_seconds (15), and the resent task needs a moment
# to reach a worker and make its first step: stall + 30 s in all. The grace covers what this
# test adds: four stacks share two CI cores, so a fresh worker's boot and Whisper load, a broker
# reconnect and the 0.1 s polling all run late. It bounds whether recovery happens on its own
# (without the broker's one-hour visibility timeout), not how fast.
RECOVERY_GRACE_SECONDS = 20.0
# The jobs are paid: every answer earns this (the answers agree, so all are accepted).
CURRENCY = "KES"
RATE, RATE_MINOR = "5.00", 500
FUNDS = "10000.00"  # far more than the quote: intake must not refuse the job


def stall_seconds() -> float:
    from engine.settings import Settings

    return float(Settings.model_fields["stage_stall_seconds"].default)


def recovery_bound() -> float:
    return stall_seconds() + 30.0 + RECOVERY_GRACE_SECONDS


@dataclass(frozen=True)
class Fault:
    note: str
    # The job as it stood when the fault ended; recovery is the next progress past it.
    at_end: JobProgress


@dataclass
class ScenarioRun:
    """What a scenario has done so far (filled in as it goes, so a failure still reports the
    fault and the recovery it saw)."""

    name: str
    stack: FaultStack | None = None
    job_id: str = ""
    fault: Fault | None = None
    recovery_seconds: float | None = None
    submits: list[SubmitRecord] = field(default_factory=list)
    ledger_check: subprocess.CompletedProcess[str] | None = None


class MissedWindow(AssertionError):
    """The fault landed outside the moment the scenario is about (the job moved on first)."""


def _kill_worker_while_splitting(stack: FaultStack, job_id: str) -> Fault:
    stack.wait_for(
        job_id, lambda p: p.stage != "received", 120, "job to start splitting", interval=0.05
    )
    time.sleep(1.0)  # into the split, not before it
    after = stack.kill_worker(lambda: stack.db.progress(job_id))
    if after.stage != "splitting":
        raise MissedWindow(f"the split finished before the kill: {after}")
    return Fault(f"worker group killed in splitting ({after.tasks} tasks written)", after)


def _kill_worker_between_drafts(stack: FaultStack, job_id: str) -> Fault:
    # Needs two draft batches: the recording splits into about 12 tasks and the CPU drafter
    # takes 8 a batch (16 on a GPU would make it one batch, and this a missed window).
    stack.wait_for(
        job_id, lambda p: p.drafts >= 1 or p.stage in SETTLED, 300, "first draft", interval=0.05
    )
    after = stack.kill_worker(lambda: stack.db.progress(job_id))
    if after.stage != "drafting" or not 1 <= after.drafts < after.tasks:
        raise MissedWindow(f"not mid-drafting at the kill: {after}")
    return Fault(f"worker group killed with {after.drafts}/{after.tasks} drafts", after)


def _kill_redis_after_split(stack: FaultStack, job_id: str) -> Fault:
    stack.wait_for(
        job_id, lambda p: p.stage not in ("received", "splitting"), 300, "split committed",
        interval=0.05,
    )  # fmt: skip
    stack.redis.kill()
    at_kill = stack.db.progress(job_id)
    if at_kill.stage not in ("split", "drafting") or at_kill.drafts:
        raise MissedWindow(f"drafting was under way before Redis died: {at_kill}")
    time.sleep(REDIS_DOWN_SECONDS)
    stack.redis.start()
    return Fault(
        f"redis killed at {at_kill.stage}, empty again after {REDIS_DOWN_SECONDS:.0f} s",
        stack.db.progress(job_id),
    )


def _stop_postgres_while_drafting(stack: FaultStack, job_id: str) -> Fault:
    before = stack.wait_for(
        job_id, lambda p: p.stage == "drafting" or p.stage in SETTLED, 300, "drafting",
        interval=0.05,
    )  # fmt: skip
    if before.stage != "drafting" or before.drafts >= before.tasks:
        raise MissedWindow(f"drafting was over before PostgreSQL stopped: {before}")
    stack.postgres.stop("fast")
    time.sleep(POSTGRES_DOWN_SECONDS)
    stack.postgres.start()
    # Nothing commits while the database is down: the job stands where it stood at the stop.
    return Fault(
        f"postgres stopped {POSTGRES_DOWN_SECONDS:.0f} s in drafting "
        f"({before.drafts}/{before.tasks} drafts)",
        before,
    )


SCENARIOS: dict[str, Callable[[FaultStack, str], Fault]] = {
    "worker_killed_while_splitting": _kill_worker_while_splitting,
    "worker_killed_between_drafts": _kill_worker_between_drafts,
    "redis_killed_after_split": _kill_redis_after_split,
    "postgres_stopped_while_drafting": _stop_postgres_while_drafting,
}


def _funded_client(stack: FaultStack) -> dict[str, str]:
    """A client with prepaid funds (a production-mode stack: no funds, no paid job)."""
    name = f"fault-{uuid.uuid4().hex[:8]}"
    out = stack.kazi("clients", "create", name)
    key = next(ln.removeprefix("api key ") for ln in out.splitlines() if ln.startswith("api key"))
    stack.kazi(
        "ledger", "topup", "--client", name, "--amount", FUNDS, "--currency", CURRENCY,
        "--reference", "fault-deposit",
    )  # fmt: skip
    return {"Authorization": f"Bearer {key.strip()}"}


def _submit_paid_audio(stack: FaultStack, client: dict[str, str], wav: Path) -> str:
    pay_rate = {"amount": RATE, "currency": CURRENCY, "per": "task", "policy": "accepted_only"}
    spec = {"kind": "transcription", "overlap": OVERLAP, "gold_ratio": 0.0, "pay_rate": pay_rate}
    with wav.open("rb") as audio:
        resp = stack.http.post(
            "/v1/jobs", headers=client, data={"spec": json.dumps(spec)},
            files=[("files", (wav.name, audio, "audio/wav"))],
        )  # fmt: skip
    assert resp.status_code == 201, f"job submit: {resp.status_code} {resp.text}"
    return str(resp.json()["id"])


def _ledger_check(stack: FaultStack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KAZI), "ledger", "check", "--json"], cwd=stack.root, env=stack.env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _run_scenario(
    run: ScenarioRun, inject: Callable[[FaultStack, str], Fault], wav: Path, logs: Path
) -> None:
    root = Path(tempfile.gettempdir()) / f"kazi-fault-{uuid.uuid4().hex[:8]}"
    stack = run.stack = FaultStack(run.name, root, logs)
    stack.start()
    job_id = run.job_id = _submit_paid_audio(stack, _funded_client(stack), wav)
    fault = run.fault = inject(stack, job_id)
    run.recovery_seconds = stack.seconds_to_next_progress(
        job_id, fault.at_end, recovery_bound() + 60
    )
    # Accounts are made while the pipeline finishes (each CLI call is a Python start-up).
    workers = [stack.new_worker() for _ in range(SIMULATED_WORKERS)]
    stage = stack.wait_for_stage(job_id, ("labeling", "failed"), 300)
    assert stage == "labeling", stack.diagnostics(job_id)
    run.submits = answer_every_task(stack, job_id, workers)
    stage = stack.wait_for_stage(job_id, ("delivered", "reviewing", "failed"), 180)
    assert stage == "delivered", stack.diagnostics(job_id)
    run.ledger_check = _ledger_check(stack)


@dataclass(frozen=True)
class Scenario:
    run: ScenarioRun
    outcome: Future[None]


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Scenario]]:
    wav = tmp_path_factory.mktemp("fault-media") / "long talk.wav"
    write_speech_recording(wav)
    logs = tmp_path_factory.mktemp("fault-logs")
    pool = ThreadPoolExecutor(len(SCENARIOS), thread_name_prefix="fault")
    runs = {name: ScenarioRun(name) for name in SCENARIOS}
    started = {
        name: Scenario(runs[name], pool.submit(_run_scenario, runs[name], inject, wav, logs / name))
        for name, inject in SCENARIOS.items()
    }
    try:
        yield started
    finally:
        stacks = [run.stack for run in runs.values() if run.stack is not None]
        for stack in stacks:
            stack.aborted.set()
        pool.shutdown(wait=True, cancel_futures=True)
        for stack in stacks:
            stack.close()


def _report(run: ScenarioRun, capsys: pytest.CaptureFixture[str]) -> None:
    note = run.fault.note if run.fault else "fault not injected"
    took = "none seen" if run.recovery_seconds is None else f"{run.recovery_seconds:.1f} s"
    stack = run.stack
    exits = stack.own_exits() if stack else "-"
    with capsys.disabled():
        print(f"\nRECOVERY {run.name}: {took} ({note})")
        print(f"  processes that exited by themselves: {exits}; logs in {stack and stack.logs}")


def _check(run: ScenarioRun) -> None:
    assert run.stack is not None and run.recovery_seconds is not None
    db = run.stack.db
    drafts = db.drafts_per_audio_task(run.job_id)
    assert drafts, "the job has no audio tasks"
    assert {t: n for t, n in drafts.items() if n != 1} == {}, "tasks drafted other than once"

    answers = db.answers(run.job_id)
    assert Counter(task for _, task, _, _ in answers) == dict.fromkeys(drafts, OVERLAP)
    assert len({(task, worker) for _, task, worker, _ in answers}) == len(answers)
    assert [s for s in run.submits if s.status not in (200, 201)] == []
    stored = {(worker, cid): answer_id for answer_id, _, worker, cid in answers}
    assert {(s.worker_id, s.client_answer_id): s.answer_id for s in run.submits} == stored

    _check_pay(run, [answer_id for answer_id, _, _, _ in answers])

    assert run.recovery_seconds < recovery_bound(), (
        f"no progress within {recovery_bound():.0f} s of the fault's end\n"
        + run.stack.diagnostics(run.job_id)
    )


def _check_pay(run: ScenarioRun, answer_ids: list[int]) -> None:
    """Each answer earned once at the rate (all agree: all accepted); the ledger balances."""
    assert run.stack is not None and run.ledger_check is not None
    done = run.ledger_check
    assert done.returncode == 0, f"kazi ledger check: {done.returncode}\n{done.stdout}{done.stderr}"
    assert json.loads(done.stdout)["clean"] is True, done.stdout
    earned = run.stack.db.rows(
        """
        SELECT t.idempotency_key, count(*) OVER (PARTITION BY t.idempotency_key), x.amount
          FROM journal_transactions t JOIN journal_transfers x ON x.transaction_id = t.id
         WHERE t.idempotency_key LIKE 'earn:answer:%%' AND t.cause ->> 'job_id' = %s
        """,
        run.job_id,
    )
    assert [(key, n, amount) for key, n, amount in earned if n != 1 or amount != RATE_MINOR] == []
    assert sorted(key for key, _, _ in earned) == sorted(f"earn:answer:{a}" for a in answer_ids)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_job_recovers_and_loses_nothing(
    name: str, scenarios: dict[str, Scenario], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = scenarios[name]
    try:
        scenario.outcome.result()
    finally:
        _report(scenario.run, capsys)
    _check(scenario.run)
