"""Leasing, submitting, releasing and expiring, against the fake unit of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.domain.job_stage import JobStage
from engine.domain.work_states import LeaseOutcome, SlotPurpose, SlotState
from engine.work import service
from engine.work.service import (
    DistributionSettings,
    InvalidAnswer,
    LeaseNotFound,
    SubmitRefused,
    WorkerPaused,
)
from tests.unit.work.fakes import FakeStore, FakeWorkRepository, unit_of_work

SETTINGS = DistributionSettings(lease_seconds=900, trainee_gold_ratio=0.5)


@pytest.fixture(params=[False, True], ids=["find-then-claim", "one-statement-claim"])
def scene(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Both of the service's claim branches (SQLite's and PostgreSQL's) on the same store."""
    store = FakeStore()
    uow = unit_of_work(store, work=FakeWorkRepository(store, claims_in_one_statement=request.param))
    return store, uow


def submit(uow, worker_id, lease_id, label="cat", cid=None):  # type: ignore[no-untyped-def]
    return service.submit(uow, worker_id, lease_id, {"label": label}, client_answer_id=cid,
                          time_spent_seconds=1.0)  # fmt: skip


def run_out(store: FakeStore, lease_id: str) -> None:
    """Move a lease's expiry into the past (time passing, without sleeping)."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    lease = store.leases[lease_id]
    lease.expires_at = past
    slot = store.slots[lease.assignment_id]
    if slot.lease_id == lease_id:
        slot.expires_at = past


def test_a_lease_takes_a_free_slot_and_asking_again_returns_it(scene):  # type: ignore[no-untyped-def]
    store, uow = scene
    job = store.add_job()
    task = store.add_task(job)
    worker = store.add_worker()
    lease = service.lease_next(uow, worker.id, SETTINGS, job_id=job.id)
    assert lease is not None and lease.task_id == task.id and lease.job_id == job.id
    slot = store.slots[lease.assignment_id]
    assert slot.state == SlotState.LEASED and slot.worker_id == worker.id
    assert slot.lease_id == lease.lease_id and store.leases[lease.lease_id].outcome is None
    again = service.lease_next(uow, worker.id, SETTINGS, job_id=job.id)
    assert again == lease
    assert uow.commits == 0  # the entrypoint commits, never the use case


def test_overlap_answers_come_from_distinct_workers(scene):  # type: ignore[no-untyped-def]
    store, uow = scene
    job = store.add_job(overlap=2)
    tasks = [store.add_task(job), store.add_task(job)]
    workers = [store.add_worker() for _ in range(3)]
    served: list[tuple[str, str]] = []
    for _round in range(3):
        for worker in workers:
            lease = service.lease_next(uow, worker.id, SETTINGS, job_id=job.id)
            if lease is not None:
                submit(uow, worker.id, lease.lease_id)
                served.append((lease.task_id, worker.id))
    assert sorted(t for t, _ in served) == sorted([tasks[0].id] * 2 + [tasks[1].id] * 2)
    assert len(set(served)) == len(served)  # no worker answered a task twice
    assert all(service.lease_next(uow, w.id, SETTINGS, job_id=job.id) is None for w in workers)


def test_paused_workers_unknown_jobs_and_closed_jobs(scene):  # type: ignore[no-untyped-def]
    store, uow = scene
    job = store.add_job()
    store.add_task(job)
    paused = store.add_worker(status="paused")
    with pytest.raises(WorkerPaused):
        service.lease_next(uow, paused.id, SETTINGS, job_id=job.id)
    worker = store.add_worker()
    with pytest.raises(LeaseNotFound):
        service.lease_next(uow, worker.id, SETTINGS, job_id="no-such-job")
    job.stage = JobStage.SCORING.value
    assert service.lease_next(uow, worker.id, SETTINGS, job_id=job.id) is None
    with pytest.raises(LeaseNotFound):
        service.lease_next(uow, "no-such-worker", SETTINGS)


def test_gold_is_mixed_in_by_tier_on_a_slot_of_the_workers_own(scene):  # type: ignore[no-untyped-def]
    store, uow = scene
    job = store.add_job(gold_ratio=0.3)
    regular = store.add_task(job, slots=2)
    gold = store.add_task(job, gold_answer={"label": "dog"})
    trainee, qualified = store.add_worker("trainee"), store.add_worker("qualified")
    # 0.4: under the trainee ratio (0.5), over the job's (0.3) for a qualified worker.
    got = service.lease_next(uow, trainee.id, SETTINGS, job_id=job.id, draw=lambda: 0.4)
    other = service.lease_next(uow, qualified.id, SETTINGS, job_id=job.id, draw=lambda: 0.4)
    assert got is not None and got.task_id == gold.id and got.replica is None
    assert other is not None and other.task_id == regular.id
    assert store.slots[got.assignment_id].worker_id == trainee.id
    submit(uow, trainee.id, got.lease_id, "cat")
    (answer,) = [a for a in store.answers.values() if a.task_id == gold.id]
    assert answer.is_gold and answer.payload == {"label": "cat"}
    # Answered once, the gold task is never served to that worker again.
    nxt = service.lease_next(uow, trainee.id, SETTINGS, job_id=job.id, draw=lambda: 0.0)
    assert nxt is not None and nxt.task_id == regular.id


def test_submit_files_the_answer_once_and_replays_by_client_id(scene):  # type: ignore[no-untyped-def]
    store, uow = scene
    job = store.add_job()
    store.add_task(job)
    worker = store.add_worker()
    lease = service.lease_next(uow, worker.id, SETTINGS)
    assert lease is not None
    with pytest.raises(InvalidAnswer, match="must be one of"):
        submit(uow, worker.id, lease.lease_id, "horse")
    assert not store.answers
    done = submit(uow, worker.id, lease.lease_id, "dog", cid="c1")
    assert not done.replayed and not done.late and done.job_id == job.id
    assert store.slots[lease.assignment_id].state == SlotState.ANSWERED
    assert store.slots[lease.assignment_id].answer_id == done.answer_id
    assert store.leases[lease.lease_id].outcome == LeaseOutcome.SUBMITTED
    replay = submit(uow, worker.id, lease.lease_id, "dog", cid="c1")
    assert replay.replayed and replay.answer_id == done.answer_id
    with pytest.raises(SubmitRefused, match="submitted already"):
        submit(uow, worker.id, lease.lease_id, "cat", cid="c2")
    with pytest.raises(LeaseNotFound):
        submit(uow, store.add_worker().id, lease.lease_id, "cat")
    assert len(store.answers) == 1


def test_a_late_submit_counts_while_the_task_needs_the_answer(scene):  # type: ignore[no-untyped-def]
    store, uow = scene
    job = store.add_job(overlap=2)
    store.add_task(job)
    a, b, c = store.add_worker(), store.add_worker(), store.add_worker()
    lease_a = service.lease_next(uow, a.id, SETTINGS)
    assert lease_a is not None
    run_out(store, lease_a.lease_id)
    lease_b = service.lease_next(uow, b.id, SETTINGS)  # takes A's run-out slot
    assert lease_b is not None and lease_b.assignment_id == lease_a.assignment_id
    service.expire_leases(uow)  # closes A's lease where taking its slot did not
    assert store.leases[lease_a.lease_id].outcome == LeaseOutcome.EXPIRED
    late = submit(uow, a.id, lease_a.lease_id, "cat")
    assert late.late
    (filed,) = [x for x in store.answers.values() if x.worker_id == a.id]
    assert filed.assignment_id != lease_a.assignment_id  # on the task's other slot
    # Now the task's slots are held or answered: a late submit from C is refused.
    lease_c = service.lease_next(uow, c.id, SETTINGS)
    assert lease_c is None
    submit(uow, b.id, lease_b.lease_id, "cat")
    assert {x.worker_id for x in store.answers.values()} == {a.id, b.id}


def test_a_late_submit_on_a_task_with_all_its_answers_is_refused(scene):  # type: ignore[no-untyped-def]
    store, uow = scene
    job = store.add_job(overlap=1)
    store.add_task(job)
    a, b = store.add_worker(), store.add_worker()
    lease_a = service.lease_next(uow, a.id, SETTINGS)
    assert lease_a is not None
    run_out(store, lease_a.lease_id)
    lease_b = service.lease_next(uow, b.id, SETTINGS)
    assert lease_b is not None
    with pytest.raises(SubmitRefused, match="has all the answers it needs"):
        submit(uow, a.id, lease_a.lease_id)
    assert not submit(uow, b.id, lease_b.lease_id).late


def test_release_gives_the_slot_back_at_once(scene):  # type: ignore[no-untyped-def]
    store, uow = scene
    job = store.add_job(overlap=1)
    store.add_task(job)
    a, b = store.add_worker(), store.add_worker()
    lease = service.lease_next(uow, a.id, SETTINGS)
    assert lease is not None and service.lease_next(uow, b.id, SETTINGS) is None
    with pytest.raises(LeaseNotFound):
        service.release(uow, b.id, lease.lease_id)
    service.release(uow, a.id, lease.lease_id)
    service.release(uow, a.id, lease.lease_id)  # twice is harmless
    assert store.leases[lease.lease_id].outcome == LeaseOutcome.RELEASED
    assert store.slots[lease.assignment_id].state == SlotState.OPEN
    taken = service.lease_next(uow, b.id, SETTINGS)
    assert taken is not None and taken.task_id == lease.task_id
    with pytest.raises(SubmitRefused, match="released"):
        submit(uow, a.id, lease.lease_id)
    submit(uow, b.id, taken.lease_id)
    with pytest.raises(SubmitRefused, match="nothing to release"):
        service.release(uow, b.id, taken.lease_id)


def test_expiry_returns_run_out_slots_and_a_late_submit_still_counts(scene):  # type: ignore[no-untyped-def]
    store, uow = scene
    job = store.add_job(overlap=1)
    store.add_task(job)
    store.add_task(job)
    a, b = store.add_worker(), store.add_worker()
    ran_out = service.lease_next(uow, a.id, SETTINGS)
    live = service.lease_next(uow, b.id, SETTINGS)
    assert ran_out is not None and live is not None
    run_out(store, ran_out.lease_id)
    assert service.expire_leases(uow) == 1
    assert store.slots[ran_out.assignment_id].state == SlotState.OPEN
    assert store.leases[ran_out.lease_id].outcome == LeaseOutcome.EXPIRED
    assert store.slots[live.assignment_id].state == SlotState.LEASED
    late = submit(uow, a.id, ran_out.lease_id)
    assert late.late and store.slots[ran_out.assignment_id].state == SlotState.ANSWERED


def test_a_review_lease_cannot_be_submitted_as_an_answer(scene):  # type: ignore[no-untyped-def]
    from engine.db.models import AssignmentRow, LeaseRow

    store, uow = scene
    job = store.add_job(stage=JobStage.REVIEWING)
    task = store.add_task(job, slots=0)
    reviewer = store.add_worker("reviewer")
    slot = store.add_slot(AssignmentRow(task_id=task.id, job_id=job.id, replica=-1,
                                        purpose=SlotPurpose.REVIEW.value))  # fmt: skip
    now = datetime.now(UTC)
    uow.work.add_lease(LeaseRow(id="review-lease", assignment_id=slot.id, task_id=task.id,
                                worker_id=reviewer.id, channel="api", created_at=now,
                                expires_at=now + timedelta(minutes=5)))  # fmt: skip
    uow.work.claim_own(slot.id, reviewer.id, "review-lease", now + timedelta(minutes=5))
    with pytest.raises(SubmitRefused, match="review lease"):
        submit(uow, reviewer.id, "review-lease")
    assert not store.answers


def test_an_answer_made_in_label_studio_is_filed_under_its_replicas_slot(scene):  # type: ignore[no-untyped-def]
    store, uow = scene
    job = store.add_job(overlap=2)
    task = store.add_task(job)
    worker = store.add_worker()
    lease = service.lease_for_answer(uow, worker.id, task.id, 1, SETTINGS, "label_studio")
    assert store.slots[lease.assignment_id].replica == 1
    # Asking again while it holds the lease gives the same lease back.
    again = service.lease_for_answer(uow, worker.id, task.id, 0, SETTINGS, "label_studio")
    assert again.lease_id == lease.lease_id
    submit(uow, worker.id, lease.lease_id)
    with pytest.raises(SubmitRefused, match="answered this task already"):
        service.lease_for_answer(uow, worker.id, task.id, 0, SETTINGS, "label_studio")
