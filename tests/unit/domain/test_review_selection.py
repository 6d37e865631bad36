"""Which results go to QA review: low agreement, plus a fixed-per-task random sample."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.domain.review_selection import sample_draw, select_for_review

TASK_IDS = [f"task-{i}" for i in range(20_000)]


def fixed_draws(values: dict[str, float]) -> Callable[[str], float]:
    return lambda task_id: values[task_id]


# -- sample_draw --------------------------------------------------------------------------------


def test_a_draw_is_fixed_by_task_and_salt() -> None:
    assert sample_draw("t1") == sample_draw("t1")
    assert sample_draw("t1", "job-a") == sample_draw("t1", "job-a")
    assert sample_draw("t1") != sample_draw("t2")
    assert sample_draw("t1", "job-a") != sample_draw("t1", "job-b")
    assert sample_draw("t1", "job-a") != sample_draw("t1")


def test_draws_lie_in_the_unit_interval() -> None:
    draws = [sample_draw(t, "salt") for t in TASK_IDS[:2000]] + [sample_draw(""), sample_draw("é")]
    assert all(0.0 <= d < 1.0 for d in draws)


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.5, 0.9])
def test_draws_are_close_to_uniform(rate: float) -> None:
    # 20 000 draws: the fraction under `rate` has a standard deviation of at most 0.0036.
    under = sum(sample_draw(t, "job-1") < rate for t in TASK_IDS) / len(TASK_IDS)
    assert under == pytest.approx(rate, abs=0.02)


def test_salts_give_independent_samples() -> None:
    # Two jobs with the same task ids must not review the same tasks: overlap about 0.1 * 0.1.
    first = {t for t in TASK_IDS if sample_draw(t, "job-1") < 0.1}
    second = {t for t in TASK_IDS if sample_draw(t, "job-2") < 0.1}
    assert len(first & second) / len(TASK_IDS) == pytest.approx(0.01, abs=0.005)


# -- select_for_review --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agreement", "draw", "reason"),
    [
        (0.4, 0.99, "agreement 0.40 under 0.80"),
        (0.0, 0.99, "agreement 0.00 under 0.80"),
        (0.79, 0.0, "agreement 0.79 under 0.80"),  # low agreement is the reason, not the sample
        (0.8, 0.99, None),  # exactly at the threshold is not under it
        (0.8, 0.09, "random quality sample"),
        (0.95, 0.1, None),  # a draw equal to the rate is not under it
        (1.0, 0.0, "random quality sample"),
    ],
)
def test_review_reason_for_one_task(agreement: float, draw: float, reason: str | None) -> None:
    chosen = select_for_review({"t": agreement}, 0.8, 0.1, fixed_draws({"t": draw}))
    assert chosen.get("t") == reason
    assert set(chosen) <= {"t"}


def test_a_zero_rate_samples_nothing_and_a_full_rate_everything() -> None:
    agreements = {t: 0.9 for t in TASK_IDS[:500]}
    assert (
        select_for_review(agreements, 0.5, 0.0, fixed_draws(dict.fromkeys(agreements, 0.0))) == {}
    )
    everything = select_for_review(agreements, 0.5, 1.0)
    assert everything == dict.fromkeys(agreements, "random quality sample")


def test_a_zero_threshold_sends_nothing_for_agreement() -> None:
    chosen = select_for_review({"a": 0.0, "b": 0.5}, 0.0, 0.0)
    assert chosen == {}


def test_the_default_draw_is_the_per_task_sample() -> None:
    agreements = {t: 0.9 for t in TASK_IDS[:3000]}
    expected = {t for t in agreements if sample_draw(t) < 0.2}
    chosen = select_for_review(agreements, 0.5, 0.2)
    assert set(chosen) == expected
    assert len(chosen) == pytest.approx(600, abs=120)


def test_a_mixed_job() -> None:
    agreements = {"c": 0.95, "a": 0.2, "d": 0.7, "b": 0.99, "e": 0.69}
    draws = {"a": 0.5, "b": 0.03, "c": 0.5, "d": 0.01, "e": 0.9}
    chosen = select_for_review(agreements, 0.7, 0.05, fixed_draws(draws))
    assert chosen == {
        "a": "agreement 0.20 under 0.70",
        "b": "random quality sample",
        "d": "random quality sample",
        "e": "agreement 0.69 under 0.70",
    }
    assert list(chosen) == sorted(chosen)  # stable order, whatever the input order


def test_no_tasks_no_reviews() -> None:
    assert select_for_review({}, 0.8, 0.5) == {}


def test_a_higher_threshold_never_reviews_fewer_tasks() -> None:
    agreements = {t: (i % 100) / 100 for i, t in enumerate(TASK_IDS[:1000])}
    sizes = [len(select_for_review(agreements, th, 0.1)) for th in (0.0, 0.3, 0.6, 0.9, 1.0)]
    assert sizes == sorted(sizes)
    assert sizes[-1] == 1000  # every agreement here is under 1.0
