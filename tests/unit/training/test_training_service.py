"""Training use cases against the in-memory repository: enrolment, practice with feedback, the
qualification round, replays by client id and the refusals (table-driven)."""

from __future__ import annotations

import pytest

from engine.domain.job_stage import JobKind
from engine.domain.training_path import TrainingRules, TrainingSet, TrainingStage
from engine.errors import KaziError
from engine.training import service
from engine.training.gate import TrainingRequired, training_gate
from engine.training.service import NewTrainingItem
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.training.fake_training import FakeTrainingRepository

RULES = TrainingRules(practice_min_items=2, qualify_min_score=0.8)
W = "worker-1"


def _uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(training=FakeTrainingRepository())


def _add(uow, set_name: TrainingSet, text: str | None = None, label: str | None = None):  # type: ignore[no-untyped-def]
    if text is not None:
        new = NewTrainingItem(JobKind.TRANSCRIPTION, set_name, "training/a.wav", "training/a.opus",
                              "a.wav", {"text": text})  # fmt: skip
    else:
        new = NewTrainingItem(JobKind.IMAGE_CLASSIFICATION, set_name, "training/c.png", None,
                              "c.png", {"label": label}, ["cat", "dog"])  # fmt: skip
    return service.add_item(uow, new)


@pytest.fixture
def scene():  # type: ignore[no-untyped-def]
    uow = _uow()
    p1 = _add(uow, TrainingSet.PRACTICE, "habari ya asubuhi")
    p2 = _add(uow, TrainingSet.PRACTICE, label="cat")
    q1 = _add(uow, TrainingSet.QUALIFICATION, "karibu sana rafiki")
    q2 = _add(uow, TrainingSet.QUALIFICATION, label="dog")
    assert service.enrol_new_trainee(uow, W) is TrainingStage.NOT_STARTED
    return uow, p1, p2, q1, q2


def _answer(uow, item_id, cid, **answer):  # type: ignore[no-untyped-def]
    return service.answer_item(uow, W, item_id, cid, answer, RULES)


def test_enrolment_needs_a_qualification_set():
    uow = _uow()
    _add(uow, TrainingSet.PRACTICE, "moja")
    assert service.enrol_new_trainee(uow, W) is None
    training_gate(uow, W)  # no record: not gated
    _add(uow, TrainingSet.QUALIFICATION, "mbili")
    assert service.enrol_new_trainee(uow, W) is TrainingStage.NOT_STARTED
    assert service.enrol_new_trainee(uow, W) is TrainingStage.NOT_STARTED  # kept, not doubled
    with pytest.raises(TrainingRequired) as raised:
        training_gate(uow, W)
    assert (raised.value.status, raised.value.code) == (403, "training_required")


def test_practice_shows_feedback_then_qualifying_then_pass_opens_work(scene):  # type: ignore[no-untyped-def]
    uow, p1, p2, q1, q2 = scene
    first = service.next_item(uow, W, RULES)
    assert first is not None and first.item_id == p1.id and (first.number, first.total) == (1, 2)
    assert not hasattr(first, "expected")  # blind by construction
    outcome = _answer(uow, p1.id, "client-0001", text="habari za asubuhi")
    assert outcome.feedback is not None and outcome.round_result is None
    assert outcome.feedback.score == pytest.approx(2 / 3)
    assert [s.kind for s in outcome.feedback.segments] == ["same", "yours", "expected", "same"]
    assert outcome.progress.stage is TrainingStage.PRACTICE
    nxt = service.next_item(uow, W, RULES)
    assert nxt is not None and nxt.item_id == p2.id and nxt.labels == ["cat", "dog"]
    outcome = _answer(uow, p2.id, "client-0002", label="dog")
    assert outcome.feedback is not None and not outcome.feedback.correct
    assert (outcome.feedback.your_label, outcome.feedback.expected_label) == ("dog", "cat")
    assert outcome.progress.stage is TrainingStage.QUALIFYING
    with pytest.raises(TrainingRequired):
        training_gate(uow, W)
    # The qualification set: no feedback per item, the result with the last one.
    item = service.next_item(uow, W, RULES)
    assert item is not None and item.item_id == q1.id and (item.number, item.total) == (1, 2)
    mid = _answer(uow, q1.id, "client-0003", text="Karibu sana, rafiki!")
    assert mid.feedback is None and mid.round_result is None
    assert (mid.answered_in_round, mid.round_size) == (1, 2)
    last = _answer(uow, q2.id, "client-0004", label="dog")
    assert last.round_result is not None and last.round_result.passed
    assert last.round_result.mean_score == pytest.approx(1.0)
    assert last.progress.stage is TrainingStage.QUALIFIED
    training_gate(uow, W)  # paid work open
    assert service.next_item(uow, W, RULES) is None
    summary = service.training_summary(uow, W, RULES)
    assert summary is not None and summary.qualified and not summary.gated


def _through_practice(uow, p1, p2):  # type: ignore[no-untyped-def]
    _answer(uow, p1.id, "client-p1-a", text="habari ya asubuhi")
    _answer(uow, p2.id, "client-p2-a", label="cat")


def test_a_failed_round_goes_back_to_practice_with_what_to_improve(scene):  # type: ignore[no-untyped-def]
    uow, p1, p2, q1, q2 = scene
    _through_practice(uow, p1, p2)
    _answer(uow, q1.id, "client-q1-a", text="karibu sana rafiki")
    failed = _answer(uow, q2.id, "client-q2-a", label="cat")
    result = failed.round_result
    assert result is not None and not result.passed and result.mean_score == pytest.approx(0.5)
    assert [f.item_id for f in result.to_improve] == [q2.id]
    assert failed.progress.stage is TrainingStage.PRACTICE
    assert (failed.progress.failed_rounds, failed.progress.round) == (1, 2)
    summary = service.training_summary(uow, W, RULES)
    assert summary is not None and summary.practice_done == 0 and summary.failed_rounds == 1
    assert summary.last_score == pytest.approx(0.5)
    last = service.last_round_result(uow, W, RULES)
    assert last is not None and last.round == 1 and not last.passed
    # Practice again (fewest answered first), then a second round passes.
    again = service.next_item(uow, W, RULES)
    assert again is not None and again.set_name is TrainingSet.PRACTICE
    _answer(uow, p1.id, "client-p1-b", text="habari ya asubuhi")
    _answer(uow, p2.id, "client-p2-b", label="cat")
    _answer(uow, q1.id, "client-q1-b", text="karibu sana rafiki")
    passed = _answer(uow, q2.id, "client-q2-b", label="dog")
    assert passed.round_result is not None and passed.round_result.round == 2
    assert passed.progress.stage is TrainingStage.QUALIFIED


def test_a_resent_form_counts_once_and_shows_the_same_outcome(scene):  # type: ignore[no-untyped-def]
    uow, p1, p2, q1, q2 = scene
    first = _answer(uow, p1.id, "client-same-1", text="habari")
    again = _answer(uow, p1.id, "client-same-1", text="something else entirely")
    assert again.replayed and not first.replayed
    assert again.feedback == first.feedback
    training: FakeTrainingRepository = uow.training  # type: ignore[assignment]
    assert len(training.attempts) == 1
    assert service.training_summary(uow, W, RULES).practice_done == 1  # type: ignore[union-attr]
    # A resend after the round ended still shows the round's result.
    _answer(uow, p2.id, "client-same-2", label="cat")
    _answer(uow, q1.id, "client-same-3", text="karibu sana rafiki")
    done = _answer(uow, q2.id, "client-same-4", label="dog")
    resent = _answer(uow, q2.id, "client-same-4", label="dog")
    assert resent.replayed and resent.round_result == done.round_result
    assert len(training.attempts) == 4


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown item", 404, "training_item_not_found"),
        ("wrong set", 409, "training_item_wrong_set"),
        ("not next", 409, "training_item_not_next"),
        ("missing text", 422, "invalid_training_answer"),
        ("text not a string", 422, "invalid_training_answer"),
        ("label not offered", 422, "invalid_training_answer"),
        ("bad client id", 422, "invalid_training_answer"),
        ("empty client id", 422, "invalid_training_answer"),
        ("client id of another item", 409, "client_id_reused"),
        ("no training", 409, "training_not_required"),
        ("finished", 409, "training_finished"),
    ],
)
def test_refusals(scene, case, status, code):  # type: ignore[no-untyped-def]
    uow, p1, p2, q1, q2 = scene
    worker, item_id, cid, answer = W, p1.id, "client-good-1", {"text": "habari"}
    if case == "unknown item":
        item_id = 999
    elif case == "wrong set":
        item_id = q1.id
    elif case == "not next":
        item_id = p2.id
    elif case == "missing text":
        answer = {"label": "cat"}
    elif case == "text not a string":
        answer = {"text": ["habari"]}  # type: ignore[dict-item]
    elif case == "label not offered":
        _answer(uow, p1.id, "client-first", text="habari")
        item_id, answer = p2.id, {"label": "horse"}
    elif case == "bad client id":
        cid = "not ok!"
    elif case == "empty client id":
        cid = ""
    elif case == "client id of another item":
        _answer(uow, p1.id, "client-good-1", text="habari")
        item_id = p2.id
    elif case == "no training":
        worker = "someone-else"
    elif case == "finished":
        _through_practice(uow, p1, p2)
        _answer(uow, q1.id, "client-q1", text="karibu sana rafiki")
        _answer(uow, q2.id, "client-q2", label="dog")
    before = len(uow.training.attempts)  # type: ignore[attr-defined]
    with pytest.raises(KaziError) as raised:
        service.answer_item(uow, worker, item_id, cid, answer, RULES)
    assert (raised.value.status, raised.value.code) == (status, code), raised.value.message
    assert len(uow.training.attempts) == before  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kind", "set_name", "expected", "labels", "message"),
    [
        ("image_boxes", "practice", {}, [], "training items are"),
        ("nonsense", "practice", {"text": "a"}, [], "training items are"),
        ("transcription", "homework", {"text": "a"}, [], "practice or qualification"),
        ("transcription", "practice", {"text": "   "}, [], "expected text"),
        ("transcription", "practice", {"text": "a" * 5001}, [], "longer than"),
        ("image_classification", "practice", {"label": "cat"}, ["cat"], "two or more"),
        ("image_classification", "practice", {"label": "cat"}, ["cat", "cat"], "two or more"),
        ("image_classification", "practice", {"label": "cow"}, ["cat", "dog"], "not one of"),
    ],
)
def test_bad_items_are_refused(kind, set_name, expected, labels, message):  # type: ignore[no-untyped-def]
    with pytest.raises(service.InvalidTrainingItem) as raised:
        service.check_new_item(kind, set_name, expected, labels)
    assert message in raised.value.message and raised.value.status == 422


def test_no_practice_items_goes_straight_to_qualifying():
    uow = _uow()
    q = _add(uow, TrainingSet.QUALIFICATION, "moja mbili")
    service.enrol_new_trainee(uow, W)
    assert service.start_training(uow, W, RULES).stage is TrainingStage.QUALIFYING
    item = service.next_item(uow, W, RULES)
    assert item is not None and item.item_id == q.id
    outcome = _answer(uow, q.id, "client-only-1", text="moja")
    assert outcome.round_result is not None and not outcome.round_result.passed
    assert outcome.round_result.mean_score == pytest.approx(0.5)
