"""The training path's stages, rules and feedback (pure)."""

from __future__ import annotations

import pytest

from engine.domain.training_path import (
    DiffSegment,
    ItemRef,
    TrainingProgress,
    TrainingRules,
    TrainingStage,
    TrainingTransitionError,
    after_practice_answer,
    feedback_segments,
    finish_round,
    next_practice_item,
    next_qualification_item,
    practice_is_done,
    round_is_complete,
    round_outcome,
    start,
)

S = TrainingStage
RULES = TrainingRules(practice_min_items=3, qualify_min_score=0.8)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.NOT_STARTED, S.PRACTICE, True),
        (S.NOT_STARTED, S.QUALIFYING, False),
        (S.NOT_STARTED, S.QUALIFIED, False),
        (S.PRACTICE, S.QUALIFYING, True),
        (S.PRACTICE, S.QUALIFIED, False),
        (S.QUALIFYING, S.PRACTICE, True),
        (S.QUALIFYING, S.QUALIFIED, True),
        (S.QUALIFIED, S.PRACTICE, False),
        (S.QUALIFIED, S.NOT_STARTED, False),
    ],
)
def test_stage_moves_only_along_the_path(current, target, allowed):  # type: ignore[no-untyped-def]
    if allowed:
        assert current.move(target) is target
    else:
        with pytest.raises(TrainingTransitionError):
            current.move(target)


def test_practice_then_qualifying_after_the_minimum():
    progress = start(TrainingProgress())
    assert progress.stage is S.PRACTICE and start(progress) == progress
    for _ in range(2):
        progress = after_practice_answer(progress, RULES, practice_items=2, qualification_items=4)
        assert progress.stage is S.PRACTICE
    progress = after_practice_answer(progress, RULES, practice_items=2, qualification_items=4)
    assert progress.stage is S.QUALIFYING and progress.practice_done == 3


def test_practice_waits_when_there_is_no_qualification_set_yet():
    progress = start(TrainingProgress())
    for _ in range(5):
        progress = after_practice_answer(progress, RULES, practice_items=1, qualification_items=0)
    assert progress.stage is S.PRACTICE and practice_is_done(progress, RULES, practice_items=1)


def test_no_practice_items_means_no_practice_needed():
    assert practice_is_done(TrainingProgress(S.PRACTICE), RULES, practice_items=0)
    assert not practice_is_done(TrainingProgress(S.PRACTICE), RULES, practice_items=1)


def test_a_practice_answer_outside_practice_is_refused():
    with pytest.raises(TrainingTransitionError):
        after_practice_answer(TrainingProgress(S.QUALIFYING), RULES, 1, 1)


@pytest.mark.parametrize(
    ("scores", "passed", "mean"),
    [
        ([1.0, 0.8, 0.6], True, 0.8),  # exactly at the bar passes
        ([1.0, 0.6], True, 0.8),  # a float mean a hair under 0.8 still counts as 0.8
        ([0.79, 0.79], False, 0.79),
        ([], False, 0.0),
    ],
)
def test_round_outcome_is_the_mean_against_the_bar(scores, passed, mean):  # type: ignore[no-untyped-def]
    outcome = round_outcome(scores, RULES)
    assert outcome.passed is passed
    assert outcome.mean_score == pytest.approx(mean)
    assert outcome.answered == len(scores)


def test_a_failed_round_goes_back_to_practice_counted():
    qualifying = TrainingProgress(S.QUALIFYING, practice_done=3, round=1)
    failed = finish_round(qualifying, round_outcome([0.2, 0.4], RULES))
    assert failed.stage is S.PRACTICE
    assert (failed.practice_done, failed.round, failed.failed_rounds) == (0, 2, 1)
    assert failed.last_score == pytest.approx(0.3)
    passed = finish_round(TrainingProgress(S.QUALIFYING, 3, 2, 1), round_outcome([0.9], RULES))
    assert passed.stage is S.QUALIFIED and passed.failed_rounds == 1
    with pytest.raises(TrainingTransitionError):
        finish_round(passed, round_outcome([1.0], RULES))


def test_practice_items_cycle_least_answered_first():
    items = [ItemRef(7, 2), ItemRef(3, 1), ItemRef(9, 3)]
    assert next_practice_item(items, {}) == 3
    assert next_practice_item(items, {3: 1}) == 7
    assert next_practice_item(items, {3: 1, 7: 1, 9: 1}) == 3
    assert next_practice_item([], {}) is None


def test_qualification_goes_in_position_order_once_each():
    items = [ItemRef(5, 2), ItemRef(4, 1)]
    assert next_qualification_item(items, set()) == 4
    assert next_qualification_item(items, {4}) == 5
    assert next_qualification_item(items, {4, 5}) is None
    assert round_is_complete(items, {4, 5}) and not round_is_complete(items, {4})
    assert not round_is_complete([], set())


def test_feedback_marks_wrong_missing_and_extra_words():
    segments = feedback_segments(
        "Habari ya asubuhi, rafiki yangu.", "habari za asubuhi rafiki yangu sana"
    )
    assert segments == [
        DiffSegment("same", "habari"),
        DiffSegment("yours", "za"),
        DiffSegment("expected", "ya"),
        DiffSegment("same", "asubuhi rafiki yangu"),
        DiffSegment("yours", "sana"),
    ]
    assert feedback_segments("moja mbili tatu", "moja tatu") == [
        DiffSegment("same", "moja"),
        DiffSegment("expected", "mbili"),
        DiffSegment("same", "tatu"),
    ]
    assert feedback_segments("sawa", "sawa") == [DiffSegment("same", "sawa")]


def test_rules_are_bounded():
    with pytest.raises(ValueError):
        TrainingRules(practice_min_items=-1)
    with pytest.raises(ValueError):
        TrainingRules(qualify_min_score=1.5)
