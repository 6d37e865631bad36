"""QA review leases and decisions, the end of review, and the completion triggers, against
the fake unit of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.db.models import AnswerRow, TaskResultRow, TaskRow, WorkerRow
from engine.domain.job_stage import JobStage
from engine.domain.result_states import ResultStatus
from engine.domain.work_states import LeaseOutcome, SlotPurpose, SlotState
from engine.pipeline.routing import ASSEMBLE_JOB, FINISH_REVIEW, SCORE_JOB
from engine.quality import review, triggers
from engine.quality.settings import QualitySettings
from engine.work import service as work
from engine.work.service import InvalidAnswer, LeaseNotFound, NotAReviewer, SubmitRefused
from tests.unit.work.fakes import FakeStore, unit_of_work

SETTINGS = QualitySettings(lease_seconds=600)


def in_review(store: FakeStore, n: int = 1) -> tuple[list[TaskRow], list[WorkerRow]]:
    """A job in review: ``n`` tasks answered by two workers, each result waiting for review."""
    job = store.add_job(stage=JobStage.REVIEWING, overlap=2)
    workers = [store.add_worker(), store.add_worker()]
    tasks = []
    for _ in range(n):
        task = store.add_task(job)
        for worker, label in zip(workers, ("cat", "dog"), strict=True):
            row = AnswerRow(id=next(store.ids), task_id=task.id, job_id=job.id,
                            worker_id=worker.id, is_gold=False, source="api",
                            payload={"label": label}, created_at=datetime.now(UTC))  # fmt: skip
            store.answers[row.id] = row
        for slot in store.slots_of(task.id):
            slot.state = SlotState.ANSWERED.value
        store.results[task.id] = TaskResultRow(
            task_id=task.id, job_id=job.id, consensus={"label": "cat"}, final=None,
            agreement=0.5, detail={}, answers=2, status=ResultStatus.IN_REVIEW.value,
            review_reason="agreement 0.50 is under 0.75",
        )  # fmt: skip
        unit_of_work(store).quality.add_review_slot(job.id, task.id)
        tasks.append(task)
    return tasks, workers


def decide(uow, reviewer_id, lease_id, decision="accept", corrected=None, cid=None):  # type: ignore[no-untyped-def]
    return review.submit_review(uow, reviewer_id, lease_id, decision, corrected,
                                client_review_id=cid)  # fmt: skip


def test_only_reviewers_lease_reviews_and_never_of_their_own_tasks():
    store = FakeStore()
    (task,), workers = in_review(store)
    uow = unit_of_work(store)
    with pytest.raises(NotAReviewer):
        review.lease_review(uow, workers[0].id, SETTINGS)
    workers[0].tier = "reviewer"  # a reviewer who answered the task
    assert review.lease_review(uow, workers[0].id, SETTINGS) is None
    reviewer = store.add_worker("reviewer")
    lease = review.lease_review(uow, reviewer.id, SETTINGS)
    assert lease is not None and lease.task_id == task.id
    assert lease.consensus == {"label": "cat"} and len(lease.answers) == 2
    assert lease.labels == ["cat", "dog"] and lease.media_key == task.object_key
    (slot,) = store.slots_of(task.id, SlotPurpose.REVIEW)
    assert slot.state == SlotState.LEASED and slot.lease_id == lease.lease_id
    # Held: nobody else gets it.
    assert review.lease_review(uow, store.add_worker("reviewer").id, SETTINGS) is None


def test_a_run_out_review_lease_goes_to_the_next_reviewer():
    store = FakeStore()
    (task,), _ = in_review(store)
    uow = unit_of_work(store)
    first, second = store.add_worker("reviewer"), store.add_worker("reviewer")
    lease = review.lease_review(uow, first.id, SETTINGS)
    assert lease is not None
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.leases[lease.lease_id].expires_at = past
    store.slots_of(task.id, SlotPurpose.REVIEW)[0].expires_at = past
    taken = review.lease_review(uow, second.id, SETTINGS)
    assert taken is not None and taken.task_id == task.id
    assert store.leases[lease.lease_id].outcome == LeaseOutcome.EXPIRED


def test_accepting_makes_the_consensus_final_and_rescores_the_answers():
    store = FakeStore()
    (task,), workers = in_review(store)
    uow = unit_of_work(store)
    reviewer = store.add_worker("reviewer")
    lease = review.lease_review(uow, reviewer.id, SETTINGS)
    assert lease is not None
    review_id = decide(uow, reviewer.id, lease.lease_id, cid="r1")
    result = store.results[task.id]
    assert result.status == ResultStatus.FINAL and result.final == {"label": "cat"}
    assert result.final_source == "review"
    assert store.reviews[review_id].decision == "accepted"
    assert store.slots_of(task.id, SlotPurpose.REVIEW)[0].state == SlotState.ANSWERED
    assert store.leases[lease.lease_id].outcome == LeaseOutcome.SUBMITTED
    scores = {s.worker_id: s for s in store.scores.values()}
    assert {s.against for s in scores.values()} == {"review"}
    assert scores[workers[0].id].score == 1.0 and scores[workers[1].id].score == 0.0
    # A replay by client id returns the same review; a new decision is refused.
    assert decide(uow, reviewer.id, lease.lease_id, cid="r1") == review_id
    with pytest.raises(SubmitRefused):
        decide(uow, reviewer.id, lease.lease_id, cid="r2")
    assert uow.commits == 0


def test_a_correction_replaces_the_consensus_once_checked():
    store = FakeStore()
    (task,), _ = in_review(store)
    uow = unit_of_work(store)
    reviewer = store.add_worker("reviewer")
    lease = review.lease_review(uow, reviewer.id, SETTINGS)
    assert lease is not None
    with pytest.raises(InvalidAnswer):
        decide(uow, reviewer.id, lease.lease_id, "correct", {"label": "horse"})
    with pytest.raises(InvalidAnswer):
        decide(uow, reviewer.id, lease.lease_id, "maybe")
    review_id = decide(uow, reviewer.id, lease.lease_id, "correct", {"label": "dog"})
    assert store.results[task.id].final == {"label": "dog"}
    assert store.reviews[review_id].decision == "corrected"


def test_a_trainee_cannot_finalize_a_result_with_its_own_answer_lease():
    store = FakeStore()
    job = store.add_job(overlap=1)
    task = store.add_task(job)
    trainee = store.add_worker("trainee")
    uow = unit_of_work(store)
    lease = work.lease_next(uow, trainee.id, work.DistributionSettings())
    assert lease is not None and lease.task_id == task.id
    store.results[task.id] = TaskResultRow(
        task_id=task.id, job_id=job.id, consensus={"label": "cat"}, final=None, agreement=0.5,
        detail={}, answers=1, status=ResultStatus.IN_REVIEW.value,
    )  # fmt: skip
    with pytest.raises(LeaseNotFound, match="no review lease"):
        decide(uow, trainee.id, lease.lease_id)
    assert store.results[task.id].status == ResultStatus.IN_REVIEW and not store.reviews


def test_a_demoted_reviewer_cannot_submit_its_review_lease():
    store = FakeStore()
    in_review(store)
    uow = unit_of_work(store)
    reviewer = store.add_worker("reviewer")
    lease = review.lease_review(uow, reviewer.id, SETTINGS)
    assert lease is not None
    reviewer.tier = "qualified"
    with pytest.raises(NotAReviewer):
        decide(uow, reviewer.id, lease.lease_id)


def test_the_last_review_ends_review_in_its_own_transaction():
    store = FakeStore()
    tasks, _ = in_review(store, n=2)
    uow = unit_of_work(store)
    reviewer = store.add_worker("reviewer")
    for i in range(2):
        lease = review.lease_review(uow, reviewer.id, SETTINGS)
        assert lease is not None
        review.submit_review_and_check_done(uow, reviewer.id, lease.lease_id, "accept", None)
        sent = [s.task for s in uow.outbox.pending]
        assert sent == ([] if i == 0 else [FINISH_REVIEW.task])
    job_id = tasks[0].job_id
    assert review.finish_review(uow, job_id) is JobStage.ASSEMBLING
    assert store.jobs[job_id].stage == JobStage.ASSEMBLING
    assert [s.task for s in uow.outbox.pending] == [FINISH_REVIEW.task, ASSEMBLE_JOB.task]
    # Run again (a redelivered message): nothing more happens.
    assert review.finish_review(uow, job_id) is JobStage.ASSEMBLING
    assert len(uow.outbox.pending) == 2


def test_finish_review_waits_while_a_result_is_in_review():
    store = FakeStore()
    tasks, _ = in_review(store)
    uow = unit_of_work(store)
    assert review.finish_review(uow, tasks[0].job_id) is JobStage.REVIEWING
    assert not uow.outbox.pending


def test_a_review_made_in_label_studio_takes_the_free_review_slot():
    store = FakeStore()
    (task,), workers = in_review(store)
    uow = unit_of_work(store)
    reviewer = store.add_worker("reviewer")
    lease_id = review.review_lease_for_task(uow, reviewer.id, task.id, SETTINGS, "label_studio")
    assert review.review_lease_for_task(uow, reviewer.id, task.id, SETTINGS, "x") == lease_id
    with pytest.raises(SubmitRefused, match="another reviewer"):
        review.review_lease_for_task(
            uow, store.add_worker("reviewer").id, task.id, SETTINGS, "label_studio"
        )
    with pytest.raises(SubmitRefused, match="only reviewers"):
        review.review_lease_for_task(uow, workers[0].id, task.id, SETTINGS, "label_studio")


# -- triggers ---------------------------------------------------------------------------------


def test_the_last_answer_emits_answers_complete():
    store = FakeStore()
    job = store.add_job(overlap=1)
    store.add_task(job)
    store.add_task(job)
    worker = store.add_worker()
    uow = unit_of_work(store)
    for expected in ([], [SCORE_JOB.task]):
        lease = work.lease_next(uow, worker.id, work.DistributionSettings())
        assert lease is not None
        work.submit(uow, worker.id, lease.lease_id, {"label": "cat"}, client_answer_id=None,
                    time_spent_seconds=None)  # fmt: skip
        triggers.after_answer(uow, job.id)
        assert [s.task for s in uow.outbox.pending] == expected
    assert uow.outbox.pending[0].args == [job.id]


def test_the_sweep_sends_due_jobs_once():
    store = FakeStore()
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    overdue = store.add_job(deadline=past)
    store.add_task(overdue)
    waiting = store.add_job()
    store.add_task(waiting)
    reviewed = store.add_job(stage=JobStage.REVIEWING)
    uow = unit_of_work(store)
    assert sorted(triggers.send_due_jobs(uow)) == sorted([overdue.id, reviewed.id])
    assert {(s.task, s.job_id) for s in uow.outbox.pending} == {
        (SCORE_JOB.task, overdue.id), (FINISH_REVIEW.task, reviewed.id),
    }  # fmt: skip
    # Their steps are still in the outbox: the next sweep does not send them again.
    assert triggers.send_due_jobs(uow) == []
