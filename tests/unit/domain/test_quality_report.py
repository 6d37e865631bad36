from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from engine.deliverables.report_html import render_report_html
from engine.domain.quality_report import (
    DraftRevision,
    GoldTally,
    LateTask,
    ReviewedTask,
    WorkerActivity,
    build_quality_report,
    wilson_interval,
)

EVIL = "<script>alert('x')</script>"


def _full_report() -> dict:
    return build_quality_report(
        task_agreements={"t1": 1.0, "t2": 0.5, "t3": 0.95, "t4": 0.0, "t5": 0.57},
        gold=[GoldTally("ana", 8, 10), GoldTally(EVIL, 0, 2)],
        reviews=[
            # Reference = reviewed text: one deletion in 4 words.
            ReviewedTask("t1", True, "the cat sat", "the cat sat down"),
            ReviewedTask("t2", False, "Hello, world"),  # accepted: unchanged, 2 words
            ReviewedTask("t3", False),  # an image task: no texts
        ],
        draft_revisions=[
            DraftRevision("t1", "the cat sat", "the cat sat"),  # 0
            DraftRevision("t2", "a b c d", "a b"),  # 2 insertions / 2 words = 1.0
            DraftRevision("t4", "x y z", "w"),  # 3 errors / 1 word = 3.0
        ],
        workers=[
            WorkerActivity("ana", 30, 0.9),
            WorkerActivity("ben", 10),
            WorkerActivity("cy", 30, 0.5),
        ],
        late_tasks=[LateTask("t9", "no worker took it", "open")],
        deadline="2025-06-30T12:00:00Z",
        job={"id": "job-1", "kind": "transcription", "client": EVIL},
    )


def test_wilson_interval_matches_hand_computed_values() -> None:
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(1, 0)


def test_agreement_section() -> None:
    agreement = _full_report()["agreement"]
    assert agreement["tasks"] == 5
    assert agreement["mean"] == pytest.approx(0.604)
    assert (agreement["median"], agreement["min"], agreement["max"]) == (0.57, 0.0, 1.0)
    # 0.0 -> bin 0, 0.5 -> bin 5, 0.57 -> bin 5, 0.95 and 1.0 -> the last bin (closed).
    assert agreement["histogram"] == {
        "edges": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        "counts": [1, 0, 0, 0, 0, 2, 0, 0, 0, 2],
        "above": 0,
    }
    assert [row["task_id"] for row in agreement["lowest"]] == ["t4", "t2", "t5", "t3", "t1"]


def test_gold_review_and_estimated_accuracy() -> None:
    report = _full_report()
    assert report["gold"]["correct"] == 8 and report["gold"]["total"] == 12
    assert report["gold"]["accuracy"]["value"] == pytest.approx(0.6667)
    review = report["review"]
    assert (review["reviewed"], review["accepted"], review["corrected"]) == (3, 2, 1)
    assert review["consensus_wer"] == pytest.approx(1 / 6, abs=1e-4)  # 1 error in 4 + 2 words
    assert review["wer_tasks"] == 2
    low, high = wilson_interval(2, 3)
    assert report["estimated_accuracy"] == {
        "value": 0.6667,
        "low": round(low, 4),
        "high": round(high, 4),
        "successes": 2,
        "trials": 3,
        "basis": "review",
    }


def test_estimated_accuracy_falls_back_to_gold_then_to_nothing() -> None:
    gold_only = build_quality_report(task_agreements={}, gold=[GoldTally("a", 9, 10)])
    assert gold_only["estimated_accuracy"]["basis"] == "gold"
    assert gold_only["estimated_accuracy"]["value"] == 0.9
    assert build_quality_report(task_agreements={})["estimated_accuracy"] is None


def test_draft_versus_final_wer() -> None:
    drafts = _full_report()["draft_vs_final"]
    assert drafts["tasks"] == 3
    assert drafts["per_task"] == [
        {"task_id": "t1", "wer": 0.0},
        {"task_id": "t2", "wer": 1.0},
        {"task_id": "t4", "wer": 3.0},
    ]
    assert drafts["mean_wer"] == pytest.approx(4 / 3, abs=1e-4)
    assert drafts["corpus_wer"] == pytest.approx(5 / 6, abs=1e-4)  # 5 errors, 3 + 2 + 1 words
    assert drafts["histogram"]["counts"] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert drafts["histogram"]["above"] == 1


def test_workers_most_answers_first_with_gold() -> None:
    workers = _full_report()["workers"]
    assert [w["worker"] for w in workers] == ["ana", "cy", "ben", EVIL]
    ana = workers[0]
    assert (ana["answers"], ana["share"], ana["agreement_with_final"]) == (30, 0.4286, 0.9)
    assert (ana["gold_correct"], ana["gold_total"]) == (8, 10)
    assert ana["gold_accuracy"]["low"] == pytest.approx(0.4902, abs=1e-4)
    assert workers[2]["gold_accuracy"] is None and workers[2]["agreement_with_final"] is None
    assert workers[3]["answers"] == 0 and workers[3]["gold_accuracy"]["value"] == 0.0


def test_late_tasks_are_listed_with_their_reason() -> None:
    assert _full_report()["late_tasks"] == {
        "deadline": "2025-06-30T12:00:00Z",
        "count": 1,
        "tasks": [{"task_id": "t9", "state": "open", "reason": "no worker took it"}],
    }


def test_empty_report_is_all_nulls_and_zeros() -> None:
    report = build_quality_report(task_agreements={})
    assert report["agreement"]["tasks"] == 0 and report["agreement"]["mean"] is None
    assert report["gold"]["accuracy"] is None
    assert report["review"]["acceptance"] is None and report["review"]["consensus_wer"] is None
    assert report["draft_vs_final"]["corpus_wer"] is None
    assert report["workers"] == [] and report["late_tasks"]["count"] == 0
    assert json.loads(json.dumps(report)) == report


@pytest.mark.parametrize(
    "inputs",
    [
        {"task_agreements": {"t": 1.5}},
        {"task_agreements": {"t": float("nan")}},
        {"task_agreements": {}, "gold": [GoldTally("a", 1, 2), GoldTally("a", 1, 2)]},
        {"task_agreements": {}, "reviews": [ReviewedTask("t", True), ReviewedTask("t", False)]},
        {"task_agreements": {}, "job": {"when": object()}},
        {"task_agreements": {}, "histogram_bins": 0},
    ],
)
def test_bad_inputs_are_refused(inputs: dict) -> None:
    with pytest.raises(ValueError):
        build_quality_report(**inputs)


def test_input_records_refuse_impossible_counts() -> None:
    with pytest.raises(ValueError):
        GoldTally("a", 3, 2)
    with pytest.raises(ValueError):
        WorkerActivity("a", -1)
    with pytest.raises(ValueError):
        WorkerActivity("a", 1, 1.2)


class _TagBalance(HTMLParser):
    """Checks that every opened element is closed in order (void elements aside)."""

    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def test_html_is_self_contained_escaped_and_has_three_plots() -> None:
    page = render_report_html(_full_report())
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 3
    assert "<script" not in page
    for external in ("src=", "href=", "<link", "@import", "url("):
        assert external not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    parser = _TagBalance()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    text = " ".join(parser.texts)
    assert "job-1" in text and "no worker took it" in text and EVIL in text  # shown, as text


def test_html_of_an_empty_report_says_no_data() -> None:
    page = render_report_html(build_quality_report(task_agreements={}))
    assert "<svg" not in page
    assert "no data" in page and "no gold answers" in page
    parser = _TagBalance()
    parser.feed(page)
    assert parser.stack == []
