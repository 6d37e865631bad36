"""Majority vote and Dawid–Skene: hand-checked cases and a seeded simulation."""

import random

import numpy as np
import pytest

from engine.domain.dawid_skene import (
    CategoricalAnswer,
    accuracy,
    dawid_skene,
    majority_vote,
)


def answers_from(rows: list[tuple[str, str, str]]) -> list[CategoricalAnswer]:
    return [CategoricalAnswer(q, w, label) for q, w, label in rows]


def test_majority_vote_hand_checked() -> None:
    answers = answers_from(
        [
            ("q1", "a", "cat"),
            ("q1", "b", "cat"),
            ("q1", "c", "dog"),
            ("q2", "a", "dog"),
            ("q2", "b", "cat"),
        ]
    )
    result = majority_vote(answers)
    assert result.classes == ("cat", "dog")
    assert result.labels == {"q1": "cat", "q2": "cat"}  # q2 ties: lowest class wins
    assert result.posterior("q1") == pytest.approx({"cat": 2 / 3, "dog": 1 / 3})
    weighted = majority_vote(answers, weights={"a": 3.0})
    assert weighted.labels == {"q1": "cat", "q2": "dog"}
    assert weighted.posterior("q2") == pytest.approx({"cat": 0.25, "dog": 0.75})


def test_numeric_labels_sort_numerically() -> None:
    result = majority_vote(answers_from([("q", "a", "10"), ("q", "b", "9"), ("q", "c", "2")]))
    assert result.classes == ("2", "9", "10")


def test_dawid_skene_outputs_are_distributions() -> None:
    answers = answers_from(
        [(f"q{i}", w, str((i + (w == "c")) % 3)) for i in range(30) for w in ("a", "b", "c")]
    )
    result = dawid_skene(answers)
    assert result.posteriors.shape == (30, 3)
    assert np.allclose(result.posteriors.sum(axis=1), 1.0)
    assert result.confusions.shape == (3, 3, 3)
    assert np.allclose(result.confusions.sum(axis=2), 1.0)
    assert result.priors.sum() == pytest.approx(1.0)
    # a and b always agree, so they are the truth; c always answers truth + 1 (mod 3)
    assert result.labels == {f"q{i}": str(i % 3) for i in range(30)}
    c = result.confusion("c")
    assert c["0"]["1"] > 0.99 and c["1"]["2"] > 0.99 and c["2"]["0"] > 0.99
    assert result.worker_accuracy()["a"] > 0.99
    assert result.worker_accuracy()["c"] < 0.01


def test_gold_answers_expose_workers_who_flip_labels() -> None:
    # Two workers always answer the opposite of the truth, one answers it: majority is
    # always wrong and unanchored EM follows it. Five gold questions fix it everywhere.
    truth = {f"q{i}": "yes" if i % 3 else "no" for i in range(40)}
    flip = {"yes": "no", "no": "yes"}
    rows = []
    for q, label in truth.items():
        rows += [(q, "honest", label), (q, "flip1", flip[label]), (q, "flip2", flip[label])]
    answers = answers_from(rows)
    assert accuracy(majority_vote(answers).labels, truth) == 0.0
    assert accuracy(dawid_skene(answers).labels, truth) == 0.0
    gold = {q: truth[q] for q in ("q0", "q1", "q2", "q3", "q4")}
    anchored = dawid_skene(answers, gold=gold)
    assert accuracy(anchored.labels, truth) == 1.0
    assert anchored.posterior("q0") == {"no": 1.0, "yes": 0.0}
    assert anchored.confusion("flip1")["yes"]["no"] > 0.95


def test_gold_labels_nobody_used_become_classes_and_unknown_gold_is_ignored() -> None:
    answers = answers_from([("q1", "a", "x"), ("q2", "a", "x")])
    result = dawid_skene(answers, gold={"q1": "y", "q9": "z"})
    assert result.classes == ("x", "y", "z")
    assert result.labels["q1"] == "y"


def test_dawid_skene_beats_majority_vote_on_simulated_spammers() -> None:
    rng = random.Random(11)
    classes = ["a", "b", "c"]
    skills = {f"good{i}": 0.85 for i in range(3)} | {f"spam{i}": 0.0 for i in range(4)}
    truth: dict[str, str] = {}
    rows: list[tuple[str, str, str]] = []
    for i in range(400):
        q = f"q{i}"
        truth[q] = rng.choice(classes)
        for worker in rng.sample(sorted(skills), 5):
            if worker.startswith("spam"):
                label = "a"  # spammers always answer the first class
            elif rng.random() < skills[worker]:
                label = truth[q]
            else:
                label = rng.choice(classes)
            rows.append((q, worker, label))
    answers = answers_from(rows)
    mv = accuracy(majority_vote(answers).labels, truth)
    ds = dawid_skene(answers)
    # measured: majority vote 0.4925, Dawid–Skene 0.91 (crowd-kit's DawidSkene: 0.8525)
    assert mv == pytest.approx(0.4925)
    assert accuracy(ds.labels, truth) >= 0.91
    assert ds.worker_accuracy()["spam0"] < 0.4 < 0.85 < ds.worker_accuracy()["good0"]


def test_smoothing_zero_is_safe_and_validation_errors() -> None:
    answers = answers_from([("q1", "a", "x"), ("q1", "b", "y"), ("q2", "a", "y")])
    result = dawid_skene(answers, smoothing=0.0)
    assert np.isfinite(result.posteriors).all()
    with pytest.raises(ValueError, match="smoothing"):
        dawid_skene(answers, smoothing=-1)
    with pytest.raises(ValueError, match="no answers"):
        dawid_skene([])
    with pytest.raises(ValueError, match="non-negative"):
        majority_vote(answers, weights={"a": -1.0})
    with pytest.raises(ValueError, match="at least one"):
        accuracy({}, {})
