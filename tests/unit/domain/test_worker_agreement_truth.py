"""Worker agreement and box scoring of a box job checked against known truth (issue 12).

Simulated workers of known error rates answer images with known boxes; the engine's own
consensus, scoring and report code runs on their answers (engine.simulation.box_job).
"""

from __future__ import annotations

import random

import pytest

from engine.domain.answer_scoring import score_answer
from engine.domain.box_consensus import box_match_counts
from engine.domain.job_stage import JobKind
from engine.quality.consensus import AnswerIn, merge_boxes
from engine.simulation.box_job import (
    BoxJobOutcome,
    BoxTask,
    boxes_of,
    random_box_tasks,
    run_box_job,
)
from engine.simulation.error_models import WorkerProfile

LABELS = ("circle", "square", "triangle")


def worker(handle: str, label_errors: float, jitter: float, miss: float, extra: float):  # type: ignore[no-untyped-def]
    return WorkerProfile(handle, "trainee", 0.0, label_errors, jitter, miss, extra, 20.0)


CAREFUL = worker("careful", 0.05, 0.02, 0.02, 0.01)  # tight boxes, 5 % label errors
AVERAGE = worker("average", 0.12, 0.06, 0.05, 0.03)
SLOPPY = worker("sloppy", 0.30, 0.15, 0.20, 0.15)  # jittered boxes, 30 % label errors
SPAMMER = worker("spammer", 0.50, 0.60, 0.50, 0.90)  # boxes anywhere, labels at random
CROWD = (CAREFUL, AVERAGE, SLOPPY, SPAMMER)


def job(seed: int, images: int = 60) -> BoxJobOutcome:
    rng = random.Random(seed)
    tasks = random_box_tasks(rng, images, LABELS, gold=10)
    return run_box_job(tasks, CROWD, rng, labels=LABELS, overlap=3)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agreement_ranks_workers_as_their_error_rates_do(seed: int) -> None:
    outcome = job(seed)
    assert min(outcome.answers.values()) >= 30  # each worker judged on enough images
    by_agreement = sorted(outcome.agreement, key=outcome.agreement.__getitem__, reverse=True)
    assert by_agreement == ["careful", "average", "sloppy", "spammer"], outcome.agreement
    by_truth = sorted(outcome.truth_score, key=outcome.truth_score.__getitem__, reverse=True)
    assert by_agreement == by_truth
    # Agreement with what was delivered tracks the score against the truth for real workers.
    for handle in ("careful", "average", "sloppy"):
        assert outcome.agreement[handle] == pytest.approx(outcome.truth_score[handle], abs=0.1)


def test_a_right_box_another_worker_mislabelled_stays_in_the_consensus() -> None:
    """The demo's failure: the careful worker drew the circle right, a second worker drew it
    as a square and the third missed it. The consensus used to drop the object, deliver the
    image empty and score the careful worker 0 on it."""
    circle = {"label": "circle", "x": 600.0, "y": 80.0, "w": 120.0, "h": 120.0}
    answers = [
        AnswerIn("field", "careful", {"boxes": [{**circle, "x": 598.0, "w": 121.0}]}),
        AnswerIn("field", "average", {"boxes": [{**circle, "label": "square", "y": 68.0}]}),
        AnswerIn("field", "poor", {"boxes": []}),
    ]
    weights = {"careful": 0.74, "average": 0.70, "poor": 0.62}
    consensus = merge_boxes(answers, weights)["field"].payload
    matched, drawn, true = box_match_counts(boxes_of(consensus), boxes_of({"boxes": [circle]}))
    assert (matched, drawn, true) == (1, 1, 1)
    careful = score_answer(JobKind.IMAGE_BOXES, answers[0].payload, consensus).score
    others = [score_answer(JobKind.IMAGE_BOXES, a.payload, consensus).score for a in answers[1:]]
    assert careful > 0.85 and careful > max(others)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_delivered_boxes_and_the_reported_precision_recall_match_the_truth(seed: int) -> None:
    outcome = job(seed)
    # Reviewed results are delivered as corrected; the rest as the consensus drew them.
    assert outcome.precision >= 0.97 and outcome.recall >= 0.93
    section = outcome.report["sources"][0]
    estimate = outcome.report["estimated_accuracy"]
    boxes = section["boxes"]
    # Measured on the reviewed images: the consensus there against what the reviewer delivered.
    assert boxes["checked_tasks"] == estimate["reviewed"] == section["reviewed"] > 0
    assert 0.0 < boxes["precision"] <= 1.0 and 0.0 < boxes["recall"] <= 1.0
    # The report has no transcript sections for a box job.
    assert outcome.report["draft_vs_final"] is None and "wer" not in section


def test_box_precision_recall_counts_each_unmatched_box_once() -> None:
    truth = BoxTask("t", 100, 100, ({"label": "a", "x": 0, "y": 0, "w": 10, "h": 10},))
    shifted = {"boxes": [{"label": "a", "x": 50, "y": 50, "w": 10, "h": 10}]}
    # The one drawn box misses the one true box: precision 0/1 and recall 0/1, not 0/2.
    assert box_match_counts(boxes_of(shifted), boxes_of({"boxes": list(truth.truth)})) == (0, 1, 1)


def test_the_accuracy_interval_covers_the_true_share_of_right_results() -> None:
    crowd = (CAREFUL, AVERAGE, SLOPPY)
    covered = 0
    for seed in range(40):
        rng = random.Random(seed)
        outcome = run_box_job(random_box_tasks(rng, 60, LABELS, gold=10), crowd, rng, labels=LABELS)
        estimate = outcome.report["estimated_accuracy"]
        covered += estimate["low"] - 1e-9 <= outcome.delivered_right <= estimate["high"] + 1e-9
    assert covered >= 36  # 90 % of jobs
