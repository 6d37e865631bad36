"""Calibration of the delivered-accuracy estimate: on simulated crowds with known truth, its
95 % interval covers the true share of right results in at least 90 % of jobs."""

from __future__ import annotations

import random
from collections import Counter

from engine.domain.accuracy_estimate import CheckedTask, estimate_delivered_accuracy
from engine.simulation.error_models import WorkerProfile, default_crowd, noisy_label

LABELS = ("cat", "dog", "fox", "owl")
JOBS = 120


def _vote(truth: str, crowd: list[WorkerProfile], rng: random.Random) -> tuple[str, float]:
    """Three workers' majority label and its vote share (the task's agreement)."""
    votes = Counter(noisy_label(truth, LABELS, p, rng) for p in rng.sample(crowd, 3))
    label, count = votes.most_common(1)[0]
    return label, count / 3


def _simulated_job(seed: int) -> tuple[float, list[float], list[bool], list[CheckedTask]]:
    """A job of regular and gold tasks; low agreement and a 10 % sample go to review."""
    rng = random.Random(seed)
    crowd = default_crowd(seed)
    agreements: list[float] = []
    reviewed: list[bool] = []
    checked: list[CheckedTask] = []
    right = 0
    for _ in range(rng.randint(40, 120)):
        truth = rng.choice(LABELS)
        label, agreement = _vote(truth, crowd, rng)
        review = agreement < 0.7 or rng.random() < 0.10
        agreements.append(agreement)
        reviewed.append(review)
        if review:
            checked.append(CheckedTask(agreement, label == truth))
        right += review or label == truth  # a reviewed result is the reviewer's answer
    for _ in range(rng.randint(3, 15)):
        truth = rng.choice(LABELS)
        label, agreement = _vote(truth, crowd, rng)
        checked.append(CheckedTask(agreement, label == truth))
    return right / len(agreements), agreements, reviewed, checked


def test_interval_covers_the_true_accuracy_in_at_least_90_percent_of_jobs() -> None:
    covered = 0
    widths = []
    for seed in range(JOBS):
        true_accuracy, agreements, reviewed, checked = _simulated_job(seed)
        estimate = estimate_delivered_accuracy(agreements, reviewed, checked, seed=seed)
        assert estimate.low is not None and estimate.high is not None
        covered += estimate.low <= true_accuracy <= estimate.high
        widths.append(estimate.high - estimate.low)
    coverage = covered / JOBS
    print(f"coverage {coverage:.1%} over {JOBS} jobs, mean width {sum(widths) / JOBS:.3f}")
    assert coverage >= 0.90


def test_a_few_gold_answers_are_not_enough_for_a_headline() -> None:
    estimate = estimate_delivered_accuracy([1.0] * 40, [False] * 40, [CheckedTask(1.0, True)] * 3)
    assert estimate.low is not None and estimate.high is not None
    assert not estimate.conclusive
    assert estimate.needed()


def test_the_interval_narrows_with_evidence_and_the_headline_appears() -> None:
    few = estimate_delivered_accuracy([1.0] * 200, [False] * 200, [CheckedTask(1.0, True)] * 5)
    many = estimate_delivered_accuracy([1.0] * 200, [False] * 200, [CheckedTask(1.0, True)] * 150)
    assert few.width is not None and many.width is not None
    assert many.width < few.width
    assert many.conclusive and many.needed() == []


def test_every_result_reviewed_is_exactly_right() -> None:
    estimate = estimate_delivered_accuracy([0.3, 0.9], [True, True], [])
    assert estimate.value == 1.0 and estimate.low == 1.0 and estimate.high == 1.0


SENTENCES = (
    "ask not what your country can do for you",
    "the quick brown fox jumps over the lazy dog",
    "she sells sea shells by the sea shore",
    "a stitch in time saves nine they said",
    "we were there when the weather turned",
    "the meeting starts at four in the afternoon",
)


def _simulated_transcription_job(
    seed: int,
) -> tuple[float, list[float], list[bool], list[CheckedTask]]:
    """Segments typed by three of five simulated workers, merged by ROVER; a segment is right
    when the merged text is within 5 % WER of the truth (as the report counts it)."""
    from engine.domain.rover_vote import rover_vote
    from engine.domain.scoring import word_error_rate
    from engine.simulation.error_models import noisy_transcript

    rng = random.Random(seed)
    crowd = default_crowd(seed)

    def segment() -> tuple[bool, float]:
        truth = rng.choice(SENTENCES)
        typed = [(p.handle, noisy_transcript(truth, p, rng)) for p in rng.sample(crowd, 3)]
        vote = rover_vote(typed, {})
        return word_error_rate(truth, vote.text) <= 0.05, min(1.0, max(0.0, vote.agreement))

    agreements: list[float] = []
    reviewed: list[bool] = []
    checked: list[CheckedTask] = []
    right = 0
    for _ in range(rng.randint(30, 60)):
        correct, agreement = segment()
        review = agreement < 0.8 or rng.random() < 0.15
        agreements.append(agreement)
        reviewed.append(review)
        if review:
            checked.append(CheckedTask(agreement, correct))
        right += review or correct
    for _ in range(rng.randint(5, 15)):
        correct, agreement = segment()
        checked.append(CheckedTask(agreement, correct))
    return right / len(agreements), agreements, reviewed, checked


def test_interval_covers_the_true_accuracy_of_simulated_transcription_jobs() -> None:
    jobs = 100
    covered = 0
    for seed in range(jobs):
        true_accuracy, agreements, reviewed, checked = _simulated_transcription_job(seed)
        estimate = estimate_delivered_accuracy(agreements, reviewed, checked, seed=seed)
        assert estimate.low is not None and estimate.high is not None
        covered += estimate.low <= true_accuracy <= estimate.high
    print(f"transcription coverage {covered / jobs:.1%} over {jobs} jobs")
    assert covered / jobs >= 0.90
