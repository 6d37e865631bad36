"""Simulated workers' error models: realised rates on real text, determinism, realistic mistakes."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from rapidfuzz.distance import Indel

from engine.domain.scoring import corpus_error_counts, word_diff, word_error_rate
from engine.domain.text_normalization import normalize_text
from engine.simulation.error_models import (
    WorkerProfile,
    confusable_label,
    default_crowd,
    draft_keep_probability,
    noisy_boxes,
    noisy_label,
    noisy_transcript,
)
from tests.conftest import SHARED_DATA

GROUND_TRUTH = SHARED_DATA / "crowdspeech" / "dev-clean-gt.txt"
JFK = (
    "And so, my fellow Americans: ask not what your country can do for you — ask what you "
    "can do for your country."
)
LABELS = ["cat", "dog", "bird", "car", "truck"]


def librispeech_utterances(min_words: int) -> list[str]:
    """Real reference transcripts (LibriSpeech dev-clean, via CrowdSpeech), in file order."""
    utterances: list[str] = []
    words = 0
    with GROUND_TRUTH.open(encoding="utf-8") as lines:
        for line in lines:
            text = line.rstrip("\n").split("\t")[1]
            utterances.append(text)
            words += len(text.split())
            if words >= min_words:
                break
    return utterances


def profile(word_error_rate: float = 0.0, **rates: float) -> WorkerProfile:
    fields: dict[str, float] = {
        "label_error_rate": 0.0,
        "box_jitter": 0.0,
        "box_miss_rate": 0.0,
        "box_extra_rate": 0.0,
        **rates,
    }
    return WorkerProfile("test", "trainee", word_error_rate, seconds_per_task=30.0, **fields)


CROWD = default_crowd(7)


# --- profiles ----------------------------------------------------------------------------------


def test_default_crowd_is_two_careful_two_average_one_poor() -> None:
    handles = [p.handle for p in CROWD]
    assert handles == [
        "sim-careful-1", "sim-careful-2", "sim-average-1", "sim-average-2", "sim-poor-1",
    ]  # fmt: skip
    assert {p.tier for p in CROWD} == {"trainee"}
    careful, average, poor = CROWD[:2], CROWD[2:4], CROWD[4]
    assert all(0.02 <= p.word_error_rate <= 0.04 for p in careful)
    assert all(0.08 <= p.word_error_rate <= 0.12 for p in average)
    assert 0.35 <= poor.word_error_rate <= 0.45
    assert all(0.03 <= p.label_error_rate <= 0.4 for p in CROWD)
    assert max(p.label_error_rate for p in careful) < min(p.label_error_rate for p in average)
    assert max(p.label_error_rate for p in average) < poor.label_error_rate
    assert max(p.box_miss_rate for p in CROWD[:4]) < poor.box_miss_rate
    assert poor.seconds_per_task < min(p.seconds_per_task for p in careful)


def test_default_crowd_depends_only_on_the_seed() -> None:
    assert default_crowd(7) == default_crowd(7)
    assert default_crowd(7) != default_crowd(8)
    assert [p.handle for p in default_crowd(1, handle_prefix="demo")][0] == "demo-careful-1"


def test_profile_refuses_impossible_rates() -> None:
    with pytest.raises(ValueError, match="word_error_rate"):
        profile(1.5)
    with pytest.raises(ValueError, match="box_jitter"):
        profile(box_jitter=-0.1)


# --- transcripts -------------------------------------------------------------------------------


@pytest.mark.parametrize("worker", CROWD, ids=[p.handle for p in CROWD])
def test_realised_word_error_rate_is_the_profile_rate(worker: WorkerProfile) -> None:
    utterances = librispeech_utterances(2000)
    rng = random.Random(11)
    pairs = [(u, noisy_transcript(u, worker, rng)) for u in utterances]
    realised = corpus_error_counts(pairs)
    assert realised.reference_length >= 2000
    assert realised.error_rate == pytest.approx(worker.word_error_rate, abs=0.03)


def test_realised_rate_holds_on_one_long_text() -> None:
    text = " ".join(librispeech_utterances(2000))
    for rate in (0.03, 0.1, 0.4):
        hypothesis = noisy_transcript(text, profile(rate), random.Random(3))
        assert word_error_rate(text, hypothesis) == pytest.approx(rate, abs=0.03)


def test_same_seed_same_transcript() -> None:
    text = " ".join(librispeech_utterances(200))
    worker = CROWD[2]
    first = noisy_transcript(text, worker, random.Random(5), draft=text.upper())
    assert first == noisy_transcript(text, worker, random.Random(5), draft=text.upper())
    assert first != noisy_transcript(text, worker, random.Random(6), draft=text.upper())


def test_casing_and_punctuation_noise_is_forgiven_by_normalisation() -> None:
    flawless = profile(0.0)
    written = {noisy_transcript(JFK, flawless, random.Random(seed)) for seed in range(60)}
    assert len(written) > 5, "workers should differ in casing and punctuation"
    assert JFK not in written or len(written) > 1
    for text in written:
        assert text != "" and normalize_text(text) == normalize_text(JFK)
        assert word_error_rate(JFK, text) == 0.0
    assert any(text.islower() for text in written)
    assert any("," not in text for text in written)


def test_mistakes_look_like_a_listener_s() -> None:
    """Substitutions are sound-alikes, word forms or typos; deletions are mostly short function
    words; insertions happen but are the rarest."""
    utterances = librispeech_utterances(3000)
    rng = random.Random(5)
    substitutions: list[tuple[str, str]] = []
    deleted: list[str] = []
    inserted = 0
    for utterance in utterances:
        for edit in word_diff(utterance, noisy_transcript(utterance, CROWD[4], rng)):
            if edit.operation == "substitute":
                substitutions += zip(edit.reference_words, edit.hypothesis_words, strict=True)
            elif edit.operation == "delete":
                deleted += edit.reference_words
            else:
                inserted += len(edit.hypothesis_words)
    sound_alikes = {("there", "their"), ("their", "there"), ("to", "too"), ("and", "an")}
    assert sound_alikes & set(substitutions)
    close = [(r, h) for r, h in substitutions if Indel.normalized_distance(r, h) <= 0.5]
    assert len(close) / len(substitutions) > 0.7
    short = [w for w in deleted if len(w) <= 4]
    assert len(short) / len(deleted) > 0.7
    assert 0 < inserted < len(deleted) < len(substitutions)


def test_a_draft_s_mistakes_are_kept_more_by_worse_workers() -> None:
    utterances = librispeech_utterances(4000)
    # A draft with a made-up wrong word for every fifth word: easy to find in the answers.
    drafts = []
    for u_index, utterance in enumerate(utterances):
        words = utterance.split()
        for w_index in range(0, len(words), 5):
            words[w_index] = f"wrongword{u_index}x{w_index}"
        drafts.append(" ".join(words))
    planted = sum(d.count("wrongword") for d in drafts)

    def kept_share(worker: WorkerProfile) -> tuple[float, float]:
        rng = random.Random(17)
        answers = [
            noisy_transcript(u, worker, rng, draft=d)
            for u, d in zip(utterances, drafts, strict=True)
        ]
        kept = sum(a.lower().count("wrongword") for a in answers)
        return kept / planted, corpus_error_counts(zip(utterances, answers, strict=True)).error_rate

    careful, average, poor = CROWD[0], CROWD[2], CROWD[4]
    careful_kept, _ = kept_share(careful)
    average_kept, average_rate = kept_share(average)
    poor_kept, poor_rate = kept_share(poor)
    assert careful_kept < average_kept < poor_kept
    assert careful_kept == pytest.approx(draft_keep_probability(careful), abs=0.03)
    assert poor_kept == pytest.approx(draft_keep_probability(poor), abs=0.05)
    # Kept draft mistakes come out of the worker's error budget, not on top of it.
    assert average_rate == pytest.approx(average.word_error_rate, abs=0.03)
    assert poor_rate == pytest.approx(poor.word_error_rate, abs=0.03)


def test_empty_reference_gives_an_empty_answer() -> None:
    assert noisy_transcript("", CROWD[4], random.Random(1)) == ""
    assert noisy_transcript(" — ", CROWD[4], random.Random(1)) == ""


# --- labels ------------------------------------------------------------------------------------


@pytest.mark.parametrize("worker", [CROWD[0], CROWD[2], CROWD[4]], ids=lambda p: p.handle)
def test_label_error_rate_and_a_preferred_confusion(worker: WorkerProfile) -> None:
    rng = random.Random(23)
    draws = 6000
    picked = Counter(noisy_label("dog", LABELS, worker, rng) for _ in range(draws))
    wrong = draws - picked["dog"]
    assert wrong / draws == pytest.approx(worker.label_error_rate, abs=0.015)
    neighbour = confusable_label("dog", LABELS)
    assert neighbour == "bird"
    # Not uniform: most wrong answers are the neighbour, every other label is rarer.
    assert picked[neighbour] / wrong > 0.6
    assert all(
        picked[label] < picked[neighbour] for label in LABELS if label not in ("dog", neighbour)
    )


def test_confusable_label_is_a_fixed_neighbour() -> None:
    assert confusable_label("cat", LABELS) == "dog"
    assert confusable_label("truck", LABELS) == "car"
    assert confusable_label("only", ["only"]) == "only"
    with pytest.raises(ValueError, match="not one of the labels"):
        confusable_label("horse", LABELS)


def test_label_noise_is_deterministic_and_stays_in_the_labels() -> None:
    def run(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [noisy_label(LABELS[i % 5], LABELS, CROWD[4], rng) for i in range(300)]

    assert run(4) == run(4) != run(5)
    assert set(run(4)) <= set(LABELS)
    assert noisy_label("only", ["only"], CROWD[4], random.Random(1)) == "only"


# --- boxes -------------------------------------------------------------------------------------


def random_truth(rng: random.Random, width: int, height: int) -> list[dict[str, object]]:
    boxes: list[dict[str, object]] = []
    for _ in range(rng.randint(0, 6)):
        w, h = rng.uniform(2, width * 0.6), rng.uniform(2, height * 0.6)
        # Some boxes touch or cross the edges, as real ones do.
        x, y = rng.uniform(-5, width - w + 5), rng.uniform(-5, height - h + 5)
        boxes.append({"label": rng.choice(LABELS), "x": x, "y": y, "w": w, "h": h})
    return boxes


def test_boxes_stay_inside_the_image_and_are_at_least_a_pixel() -> None:
    rng = random.Random(31)
    for _ in range(400):
        width, height = rng.randint(20, 900), rng.randint(20, 900)
        truth = random_truth(rng, width, height)
        for box in noisy_boxes(truth, width, height, CROWD[4], rng, labels=LABELS):
            assert set(box) == {"label", "x", "y", "w", "h"}
            assert box["label"] in LABELS
            assert box["x"] >= 0 and box["x"] + box["w"] <= width + 1e-9
            assert box["y"] >= 0 and box["y"] + box["h"] <= height + 1e-9
            assert box["w"] >= 1 and box["h"] >= 1
            assert round(box["x"], 2) == box["x"] and round(box["w"], 2) == box["w"]


def test_box_misses_extras_and_jitter_follow_the_profile() -> None:
    worker = profile(box_jitter=0.05, box_miss_rate=0.2, box_extra_rate=0.1)
    rng = random.Random(37)
    truth: list[dict[str, Any]] = [
        {"label": "car", "x": 100.0, "y": 100.0, "w": 200.0, "h": 100.0},
        {"label": "dog", "x": 600.0, "y": 400.0, "w": 20.0, "h": 10.0},
    ]
    trials = 3000
    drawn: Counter[int] = Counter()
    edge_error: dict[str, list[float]] = {"car": [], "dog": []}
    for _ in range(trials):
        boxes = noisy_boxes(truth, 1000, 800, worker, rng)
        drawn[len(boxes)] += 1
        for truth_box in truth:
            near = [
                b
                for b in boxes
                if b["label"] == truth_box["label"]
                and abs(b["x"] - truth_box["x"]) < 0.15 * truth_box["w"]
                and abs(b["y"] - truth_box["y"]) < 0.15 * truth_box["h"]
            ]
            if near:
                edge_error[truth_box["label"]].append(abs(near[0]["x"] - truth_box["x"]))
    mean_boxes = sum(n * count for n, count in drawn.items()) / trials
    # 2 true boxes, 20 % missed, 10 % followed by an extra one.
    assert mean_boxes == pytest.approx(2 * (1 - 0.2 + 0.1), abs=0.06)
    # Jitter is relative to the box: the same share of a big and of a small box's width.
    big = sum(edge_error["car"]) / len(edge_error["car"]) / 200.0
    small = sum(edge_error["dog"]) / len(edge_error["dog"]) / 20.0
    assert big == pytest.approx(0.05 * 0.8, rel=0.25)  # mean |N(0, s)| = 0.8 s
    assert small == pytest.approx(big, rel=0.3)


def test_careful_workers_draw_tighter_boxes_than_poor_ones() -> None:
    truth = [{"label": "car", "x": 50.0, "y": 40.0, "w": 120.0, "h": 80.0}]

    def mean_offset(worker: WorkerProfile) -> float:
        rng = random.Random(41)
        offsets = []
        for _ in range(500):
            for box in noisy_boxes(truth, 400, 300, worker, rng):
                offsets.append(abs(box["x"] - 50.0) + abs(box["w"] - 120.0))
        return sum(offsets) / len(offsets)

    assert mean_offset(CROWD[0]) < mean_offset(CROWD[2]) < mean_offset(CROWD[4])


def test_boxes_are_deterministic_by_seed_and_handle_no_truth() -> None:
    truth = [{"label": "car", "x": 10, "y": 10, "w": 50, "h": 40}]
    first = noisy_boxes(truth, 200, 100, CROWD[4], random.Random(2), labels=LABELS)
    assert first == noisy_boxes(truth, 200, 100, CROWD[4], random.Random(2), labels=LABELS)
    assert noisy_boxes([], 200, 100, profile(), random.Random(2), labels=LABELS) == []
    stray = profile(box_extra_rate=1.0)
    [extra] = noisy_boxes([], 200, 100, stray, random.Random(2), labels=LABELS)
    assert extra["label"] in LABELS and extra["x"] + extra["w"] <= 200
    with pytest.raises(ValueError, match="image size"):
        noisy_boxes(truth, 0, 100, CROWD[0], random.Random(2))
