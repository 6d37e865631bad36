"""The score stage against the fake unit of work: its parts, and the use case end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.db.models import AnswerRow, JobRow, TaskRow, WorkerRow
from engine.domain.job_stage import JobKind, JobStage
from engine.domain.result_states import ResultStatus
from engine.domain.work_states import SlotPurpose
from engine.domain.worker_skill import TierPolicy
from engine.pipeline.routing import ASSEMBLE_JOB, PUBLISH_REVIEW
from engine.quality import scoring
from engine.quality.consensus import MergedResult
from engine.quality.settings import QualitySettings
from tests.unit.work.fakes import FakeStore, unit_of_work

SETTINGS = QualitySettings(review_threshold=0.75, review_sample_rate=0.0)
NO_SAMPLE = lambda _task_id: 1.0  # noqa: E731 - never under the sample rate


def answer(store: FakeStore, task: TaskRow, worker: WorkerRow, label: str) -> AnswerRow:
    """An answer filed on one of the task's slots, as a submit leaves it."""
    slot = (
        next(s for s in store.slots_of(task.id) if s.state != "answered")
        if not task.is_gold
        else None
    )
    row = AnswerRow(id=next(store.ids), task_id=task.id, job_id=task.job_id,
                    worker_id=worker.id, is_gold=task.is_gold, source="api",
                    payload={"label": label}, created_at=datetime.now(UTC))  # fmt: skip
    store.answers[row.id] = row
    if slot is not None:
        slot.state, slot.answer_id = "answered", row.id
    return row


def labeled_job(
    store: FakeStore, votes: list[list[str]], **spec: Any
) -> tuple[JobRow, list[TaskRow], list[WorkerRow]]:
    """A classification job, one task per row of votes, one worker per column, all answered."""
    job = store.add_job(overlap=len(votes[0]), **spec)
    workers = [store.add_worker() for _ in votes[0]]
    tasks = []
    for row in votes:
        task = store.add_task(job)
        for worker, label in zip(workers, row, strict=True):
            answer(store, task, worker, label)
        tasks.append(task)
    return job, tasks, workers


def test_an_agreed_job_is_final_without_review_and_goes_to_assembling():
    store = FakeStore()
    job, tasks, workers = labeled_job(store, [["cat", "cat", "cat"], ["dog", "dog", "dog"]])
    uow = unit_of_work(store)
    assert scoring.score_job(uow, job.id, SETTINGS, NO_SAMPLE) is JobStage.ASSEMBLING
    assert job.stage == JobStage.ASSEMBLING
    assert [s for _, s, _ in store.stage_events] == ["scoring", "assembling"]
    results = {t.id: store.results[t.id] for t in tasks}
    assert results[tasks[0].id].final == {"label": "cat"}
    assert results[tasks[1].id].final == {"label": "dog"}
    assert {r.status for r in results.values()} == {ResultStatus.FINAL}
    assert {r.final_source for r in results.values()} == {"consensus"}
    assert len(store.scores) == 6 and {s.against for s in store.scores.values()} == {"consensus"}
    # Entering assembling wrote the assemble step, in this unit of work, uncommitted.
    assert [s.task for s in uow.outbox.pending] == [ASSEMBLE_JOB.task]
    assert uow.commits == 0


def test_low_agreement_goes_to_review_with_a_review_slot():
    store = FakeStore()
    job = store.add_job("transcription", overlap=3)
    workers = [store.add_worker() for _ in range(3)]
    agreed, split = store.add_task(job), store.add_task(job)
    for worker, text in zip(workers, ["a cat sat", "a dog ran off", "two birds"], strict=True):
        answer(store, agreed, worker, "").payload = {"text": "a cat sat"}
        answer(store, split, worker, "").payload = {"text": text}
    uow = unit_of_work(store)
    assert scoring.score_job(uow, job.id, SETTINGS, NO_SAMPLE) is JobStage.REVIEWING
    final, in_review = store.results[agreed.id], store.results[split.id]
    assert final.status == ResultStatus.FINAL and final.final == {"text": "a cat sat"}
    assert in_review.status == ResultStatus.IN_REVIEW and in_review.final is None
    assert in_review.review_reason and in_review.final_source is None
    assert len(store.slots_of(split.id, SlotPurpose.REVIEW)) == 1
    assert not store.slots_of(agreed.id, SlotPurpose.REVIEW)
    assert [s.task for s in uow.outbox.pending] == [PUBLISH_REVIEW.task]
    assert store.stage_events[-1][2] == "1 of 2 results go to QA review"


def test_a_job_with_open_slots_waits_until_its_deadline():
    store = FakeStore()
    job = store.add_job(overlap=2)
    task = store.add_task(job)
    answer(store, task, store.add_worker(), "cat")
    uow = unit_of_work(store)
    assert scoring.score_job(uow, job.id, SETTINGS, NO_SAMPLE) is JobStage.LABELING
    assert not store.results and not store.stage_events and not uow.outbox.pending
    job.spec = {**job.spec, "deadline": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}
    silent = store.add_task(job)
    assert scoring.score_job(uow, job.id, SETTINGS, NO_SAMPLE) is JobStage.ASSEMBLING
    assert store.results[task.id].answers == 1
    assert store.results[silent.id].status == ResultStatus.UNANSWERED


def test_scoring_a_job_past_the_score_stage_changes_nothing():
    store = FakeStore()
    job, _, _ = labeled_job(store, [["cat", "cat"]])
    job.stage = JobStage.ASSEMBLING.value
    uow = unit_of_work(store)
    assert scoring.score_job(uow, job.id, SETTINGS, NO_SAMPLE) is JobStage.ASSEMBLING
    assert not store.results and not store.scores and not uow.outbox.pending
    assert scoring.score_job(uow, "no-such-job", SETTINGS) is None


def test_gold_answers_are_scored_against_gold_and_weigh_their_workers():
    store = FakeStore()
    job = store.add_job(overlap=2)
    good, bad = store.add_worker(), store.add_worker()
    gold = store.add_task(job, gold_answer={"label": "dog"})
    answer(store, gold, good, "dog")
    answer(store, gold, bad, "cat")
    task = store.add_task(job)
    answer(store, task, good, "dog")
    answer(store, task, bad, "cat")
    uow = unit_of_work(store)
    answers = scoring.load_answers(uow, job)
    scoring.score_gold(uow, answers)
    by_worker = {s.worker_id: s for s in store.scores.values()}
    assert by_worker[good.id].against == "gold" and by_worker[good.id].score == 1.0
    assert by_worker[bad.id].score == 0.0
    merged = scoring.merge_answers(uow, answers, SETTINGS.policy)
    # The worker who got the gold right outweighs the one who did not.
    assert merged[task.id].payload == {"label": "dog"}
    assert gold.id not in {t.id for t in answers.regular_tasks}


def test_review_choice_and_result_rows():
    store = FakeStore()
    job, tasks, _ = labeled_job(store, [["cat", "cat"], ["cat", "dog"]])
    answers = scoring.load_answers(unit_of_work(store), job)
    merged = {
        tasks[0].id: MergedResult({"label": "cat"}, 0.99, {}, 2),
        tasks[1].id: MergedResult({"label": "cat"}, 0.5, {}, 2),
    }
    assert set(scoring.choose_reviews(answers, merged, SETTINGS, NO_SAMPLE)) == {tasks[1].id}
    sampled = QualitySettings(review_threshold=0.75, review_sample_rate=0.5)
    assert set(scoring.choose_reviews(answers, merged, sampled, lambda _t: 0.1)) == {
        tasks[0].id, tasks[1].id,
    }  # fmt: skip
    final = scoring.result_row(job.id, tasks[0].id, merged[tasks[0].id], None)
    assert final.status == "final" and final.final == {"label": "cat"}
    review = scoring.result_row(job.id, tasks[1].id, merged[tasks[1].id], "low agreement")
    assert review.status == "in_review" and review.final is None
    assert scoring.result_row(job.id, "t", None, None).status == "unanswered"


def test_tiers_follow_the_workers_scores():
    store = FakeStore()
    trainee = store.add_worker("trainee")
    careless = store.add_worker("qualified")
    uow = unit_of_work(store)
    from engine.db.models import AnswerScoreRow

    for i in range(30):
        for worker, score in ((trainee, 1.0), (careless, 0.0)):
            store.scores[next(store.ids)] = AnswerScoreRow(
                answer_id=i, worker_id=worker.id, job_id="j", task_id=f"t{i}",
                against="consensus", score=score, scored_at=datetime.now(UTC),
            )  # fmt: skip
    policy = TierPolicy(qualify_min_answers=10, pause_min_answers=10)
    scoring.update_tiers(uow, [trainee.id, careless.id], policy)
    assert trainee.tier == "qualified" and trainee.status == "active"
    assert careless.status == "paused"


def test_transcripts_merge_with_the_draft_as_a_voter():
    from engine.db.models import DraftRow

    store = FakeStore()
    job = store.add_job("transcription", overlap=2)
    task = store.add_task(job)
    a, b = store.add_worker(), store.add_worker()
    for worker, text in ((a, "he could wait no longer"), (b, "he could wait no longer")):
        row = answer(store, task, worker, "")
        row.payload = {"text": text}
    store.drafts.append(DraftRow(id=1, task_id=task.id, model_version="m", text="he could wait",
                                 words=[], object_key="k"))  # fmt: skip
    uow = unit_of_work(store)
    merged = scoring.merge_answers(uow, scoring.load_answers(uow, job), SETTINGS.policy)
    assert merged[task.id].payload == {"text": "he could wait no longer"}
    assert scoring.load_answers(uow, job).kind is JobKind.TRANSCRIPTION
