"""The rules for handing out work: free slots (Python form), states and their transitions,
gold mixing, the predicate language's SQL-like logic."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from engine.domain.job_stage import JobStage
from engine.domain.lease_rules import (
    ANSWER_LEASE,
    FREE_ANSWER_SLOT,
    NOW,
    REVIEW_LEASE,
    SLOT_IS_FREE,
    UNANSWERED_ANSWER_SLOT,
    Candidate,
    SlotView,
    WorkerTier,
    gold_ratio_for,
    may_lease,
    serve_gold,
    slot_facts,
    slot_is_free,
    submit_keeps_own_slot,
)
from engine.domain.predicate import (
    Field,
    Param,
    after,
    all_of,
    any_of,
    at_or_before,
    eq,
    evaluate,
    field_names,
    holds,
    is_null,
    ne,
    not_,
)
from engine.domain.result_states import (
    ResultStatus,
    ReviewOutcome,
    check_result_transition,
    review_outcome,
    scored_status,
)
from engine.domain.work_states import (
    SLOT_TRANSITIONS,
    LeaseOutcome,
    SlotPurpose,
    SlotState,
    StateTransitionError,
    check_lease_transition,
    check_slot_transition,
    outcome_after_release,
    submit_refusal,
)

NOW_AT = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
PAST = NOW_AT - timedelta(seconds=1)
FUTURE = NOW_AT + timedelta(minutes=15)


def view(state: SlotState, expires: datetime | None = None, **kw: object) -> SlotView:
    return SlotView(state, "lease-1" if state is SlotState.LEASED else None, expires, **kw)  # type: ignore[arg-type]


# -- the predicate language -------------------------------------------------------------------

A, B = Field("a"), Field("b")
T = Param("t")


def test_comparisons_with_a_missing_value_are_unknown_as_in_sql():
    assert evaluate(eq(A, 1), {"a": None}, {}) is None
    assert evaluate(not_(eq(A, 1)), {"a": None}, {}) is None
    assert evaluate(at_or_before(A, T), {"a": None}, {"t": NOW_AT}) is None
    assert not holds(not_(eq(A, 1)), {"a": None}, {})
    assert evaluate(is_null(A), {"a": None}, {}) is True


def test_and_or_combine_unknowns_as_sql_does():
    unknown, true, false = eq(A, 1), eq(B, 1), eq(B, 2)
    facts = {"a": None, "b": 1}
    assert evaluate(all_of(unknown, false), facts, {}) is False
    assert evaluate(all_of(unknown, true), facts, {}) is None
    assert evaluate(any_of(unknown, true), facts, {}) is True
    assert evaluate(any_of(unknown, false), facts, {}) is None


def test_times_compare_against_parameters():
    assert holds(at_or_before(A, T), {"a": PAST}, {"t": NOW_AT})
    assert holds(at_or_before(A, T), {"a": NOW_AT}, {"t": NOW_AT})
    assert not holds(after(A, T), {"a": NOW_AT}, {"t": NOW_AT})
    assert holds(ne(A, "x"), {"a": "y"}, {})


def test_a_fact_the_caller_did_not_give_is_an_error_not_an_unknown():
    with pytest.raises(KeyError):
        evaluate(eq(A, 1), {}, {})
    with pytest.raises(KeyError):
        evaluate(at_or_before(A, T), {"a": PAST}, {})


def test_field_names_lists_every_fact_a_rule_reads():
    assert field_names(FREE_ANSWER_SLOT) == {
        "slot.state", "slot.purpose", "slot.replica", "slot.expires_at", "job.stage",
        "worker.answered_task", "worker.holds_task",
    }  # fmt: skip


# -- free slots -------------------------------------------------------------------------------


def test_a_slot_is_free_when_open_or_its_lease_ran_out():
    assert slot_is_free(view(SlotState.OPEN), NOW_AT)
    assert slot_is_free(view(SlotState.LEASED, PAST), NOW_AT)
    assert slot_is_free(view(SlotState.LEASED, NOW_AT), NOW_AT)  # runs out at its expiry
    assert not slot_is_free(view(SlotState.LEASED, FUTURE), NOW_AT)
    assert not slot_is_free(view(SlotState.ANSWERED), NOW_AT)
    # A leased slot without an expiry is never taken from its holder.
    assert not slot_is_free(view(SlotState.LEASED, None), NOW_AT)


def answer_candidate(**changes: object) -> Candidate:
    base: dict[str, object] = {
        "slot": view(SlotState.OPEN), "job_stage": JobStage.LABELING,
        "worker_answered_task": False, "worker_holds_task": False,
    }  # fmt: skip
    return Candidate(**{**base, **changes})  # type: ignore[arg-type]


def test_a_worker_may_lease_a_free_regular_answer_slot_of_an_open_job():
    assert may_lease(ANSWER_LEASE, answer_candidate(), NOW_AT)
    assert may_lease(ANSWER_LEASE, answer_candidate(slot=view(SlotState.LEASED, PAST)), NOW_AT)


@pytest.mark.parametrize(
    "changes",
    [
        {"slot": view(SlotState.LEASED, FUTURE)},
        {"slot": view(SlotState.ANSWERED)},
        {"slot": view(SlotState.OPEN, replica=None)},  # a gold slot is its worker's own
        {"slot": view(SlotState.OPEN, purpose=SlotPurpose.REVIEW)},
        {"job_stage": JobStage.SCORING},
        {"job_stage": JobStage.PUBLISHING},
        {"worker_answered_task": True},
        {"worker_holds_task": True},  # never two answers to one task from one worker
    ],
)
def test_what_keeps_a_worker_from_an_answer_slot(changes: dict[str, object]):
    assert not may_lease(ANSWER_LEASE, answer_candidate(**changes), NOW_AT)


def test_review_slots_go_to_reviewers_of_reviewing_jobs_who_did_not_answer_the_task():
    review = view(SlotState.OPEN, purpose=SlotPurpose.REVIEW, replica=-1)
    seen = Candidate(review, JobStage.REVIEWING)
    assert may_lease(REVIEW_LEASE, seen, NOW_AT)
    assert not may_lease(ANSWER_LEASE, seen, NOW_AT)
    assert not may_lease(REVIEW_LEASE, Candidate(review, JobStage.REVIEWING, True), NOW_AT)
    assert not may_lease(REVIEW_LEASE, Candidate(review, JobStage.LABELING), NOW_AT)
    ran_out = view(SlotState.LEASED, PAST, purpose=SlotPurpose.REVIEW, replica=-1)
    assert may_lease(REVIEW_LEASE, Candidate(ran_out, JobStage.REVIEWING), NOW_AT)
    assert not may_lease(REVIEW_LEASE, answer_candidate(job_stage=JobStage.REVIEWING), NOW_AT)


def test_a_job_is_complete_when_no_regular_answer_slot_is_unanswered():
    def unanswered(slot: SlotView) -> bool:
        return holds(UNANSWERED_ANSWER_SLOT, slot_facts(slot), {})

    assert unanswered(view(SlotState.OPEN)) and unanswered(view(SlotState.LEASED, PAST))
    assert not unanswered(view(SlotState.ANSWERED))
    assert not unanswered(view(SlotState.OPEN, replica=None))
    assert not unanswered(view(SlotState.OPEN, purpose=SlotPurpose.REVIEW))


def test_claiming_a_free_slot_is_always_an_allowed_transition():
    # The SQL claim moves every slot SLOT_IS_FREE selects to leased: that must be allowed.
    for state, expires in itertools.product(SlotState, (None, PAST, NOW_AT, FUTURE)):
        if holds(SLOT_IS_FREE, slot_facts(view(state, expires)), {NOW.name: NOW_AT}):
            check_slot_transition(state, SlotState.LEASED)


def test_a_submit_keeps_its_own_slot_while_nobody_else_took_it():
    assert submit_keeps_own_slot(view(SlotState.LEASED, PAST), "lease-1")
    assert not submit_keeps_own_slot(view(SlotState.LEASED, FUTURE), "lease-2")
    assert not submit_keeps_own_slot(view(SlotState.OPEN), "lease-1")


# -- states and transitions -------------------------------------------------------------------


def test_slot_transitions():
    check_slot_transition(SlotState.OPEN, SlotState.LEASED)
    check_slot_transition(SlotState.LEASED, SlotState.ANSWERED)
    check_slot_transition(SlotState.LEASED, SlotState.OPEN)
    with pytest.raises(StateTransitionError):
        check_slot_transition(SlotState.OPEN, SlotState.ANSWERED)
    for target in SlotState:
        with pytest.raises(StateTransitionError):
            check_slot_transition(SlotState.ANSWERED, target)
    assert set(SLOT_TRANSITIONS) == set(SlotState)


def test_lease_transitions_and_submit_refusals():
    for outcome in LeaseOutcome:
        check_lease_transition(None, outcome)
    check_lease_transition(LeaseOutcome.EXPIRED, LeaseOutcome.SUBMITTED)  # a late submit
    for done in (LeaseOutcome.SUBMITTED, LeaseOutcome.RELEASED):
        for target in LeaseOutcome:
            with pytest.raises(StateTransitionError):
                check_lease_transition(done, target)
    assert submit_refusal(None) is None and submit_refusal(LeaseOutcome.EXPIRED) is None
    assert "submitted already" in (submit_refusal(LeaseOutcome.SUBMITTED) or "")
    assert "released" in (submit_refusal(LeaseOutcome.RELEASED) or "")


def test_releasing_twice_or_after_expiry_changes_nothing_and_a_submitted_lease_stays():
    assert outcome_after_release(None) is LeaseOutcome.RELEASED
    assert outcome_after_release(LeaseOutcome.RELEASED) is LeaseOutcome.RELEASED
    assert outcome_after_release(LeaseOutcome.EXPIRED) is LeaseOutcome.EXPIRED
    with pytest.raises(StateTransitionError):
        outcome_after_release(LeaseOutcome.SUBMITTED)


def test_result_states():
    assert scored_status(answered=False, to_review=True) is ResultStatus.UNANSWERED
    assert scored_status(answered=True, to_review=True) is ResultStatus.IN_REVIEW
    assert scored_status(answered=True, to_review=False) is ResultStatus.FINAL
    for status in ResultStatus:
        check_result_transition(None, status)
    check_result_transition(ResultStatus.IN_REVIEW, ResultStatus.FINAL)
    for final in (ResultStatus.FINAL, ResultStatus.UNANSWERED):
        with pytest.raises(StateTransitionError):
            check_result_transition(final, ResultStatus.IN_REVIEW)
    assert review_outcome({"text": "a"}, {"text": "a"}) is ReviewOutcome.ACCEPTED
    assert review_outcome({"text": "b"}, {"text": "a"}) is ReviewOutcome.CORRECTED


# -- gold ---------------------------------------------------------------------------------


def test_trainees_see_gold_at_least_at_the_trainee_ratio():
    assert gold_ratio_for(0.05, WorkerTier.TRAINEE, 0.2) == 0.2
    assert gold_ratio_for(0.3, WorkerTier.TRAINEE, 0.2) == 0.3
    assert gold_ratio_for(0.05, WorkerTier.QUALIFIED, 0.2) == 0.05
    assert serve_gold(0.1, 0.2) and not serve_gold(0.2, 0.2)
