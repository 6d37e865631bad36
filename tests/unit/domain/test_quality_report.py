from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from engine.deliverables.report_html import render_report_html
from engine.domain.accuracy_estimate import CheckedTask
from engine.domain.quality_report import (
    DeliveredTask,
    DraftRevision,
    GoldTally,
    LateTask,
    ReviewedTask,
    SourceFile,
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
    # No delivered results were described: there is nothing to estimate.
    assert report["estimated_accuracy"] is None


def _delivered(n: int, agreement: float, source: str = "talk.wav", **kw: object) -> list:
    return [
        DeliveredTask(f"{source}-{agreement}-{i}", source, agreement, seq=i, **kw)  # type: ignore[arg-type]
        for i in range(n)
    ]


def test_three_gold_answers_give_no_headline_but_say_what_would() -> None:
    report = build_quality_report(
        task_agreements={},
        delivered=_delivered(40, 1.0),
        gold_checks=[CheckedTask(1.0, True)] * 3,
        sources=[SourceFile("talk.wav", "audio", 60.0)],
    )
    estimate = report["estimated_accuracy"]
    assert estimate["headline"] is None and not estimate["conclusive"]
    assert estimate["high"] - estimate["low"] > 0.10
    assert estimate["gold_checks"] == 3 and estimate["delivered"] == 40
    assert any("gold" in line for line in estimate["needed"])
    html = render_report_html(report)
    assert "not enough evidence" in html and "What would give a reliable estimate" in html


def test_reviews_and_gold_calibrate_the_unreviewed_results() -> None:
    reviewed = [
        DeliveredTask(f"r{i}", "talk.wav", 0.95, reviewed=True, consensus_correct=i != 0, seq=i)
        for i in range(60)
    ]
    report = build_quality_report(
        task_agreements={},
        delivered=reviewed + _delivered(100, 0.95),
        gold_checks=[CheckedTask(0.95, True)] * 60,
        sources=[SourceFile("talk.wav", "audio", 60.0)],
    )
    estimate = report["estimated_accuracy"]
    assert estimate["conclusive"] and estimate["headline"] == estimate["value"]
    # 1 wrong consensus in 120 checks at this agreement: nearly all of the rest are right.
    assert 0.97 < estimate["value"] <= 1.0
    assert estimate["low"] <= estimate["value"] <= estimate["high"]
    assert estimate["reviewed"] == 60 and estimate["checked_tasks"] == 120
    assert report["sources"][0]["accuracy"]["delivered"] == 160


def test_per_source_wer_worst_segments_and_audio_links() -> None:
    spans = dict(start_seconds=12.5, end_seconds=20.0, words=10)
    bad = DeliveredTask(
        "bad",
        "my talk.wav",
        0.7,
        True,
        False,
        seq=3,
        consensus_wer=0.25,
        **spans,  # type: ignore[arg-type]
    )
    good = DeliveredTask("good", "my talk.wav", 1.0, True, True, seq=1, consensus_wer=0.0, **spans)  # type: ignore[arg-type]
    other = DeliveredTask("o", "b.wav", 1.0, seq=1, words=5)
    report = build_quality_report(
        task_agreements={},
        delivered=[bad, good, other],
        sources=[SourceFile("my talk.wav", "audio", 30.0), SourceFile("b.wav", "audio", 5.0)],
        kind="transcription",
    )
    first, second = report["sources"]
    assert (first["name"], first["tasks"], first["reviewed"]) == ("my talk.wav", 2, 2)
    assert first["wer"]["consensus_wer_on_checked"] == pytest.approx(0.125)
    assert first["wer"]["checked_segments"] == 2
    assert first["worst"][0]["task_id"] == "bad"
    assert second["wer"]["estimated_delivered_wer"] is None  # nothing checked, wide interval
    html = render_report_html(report)
    assert 'href="my%20talk.wav#t=12.50,20.00"' in html
    assert "0:12.5 – 0:20.0" in html
    # Tasks are named by file, segment and span, not by id.
    assert report["agreement"]["lowest"] == []  # no task_agreements passed
    named = build_quality_report(task_agreements={"bad": 0.7}, delivered=[bad])
    assert named["agreement"]["lowest"][0]["task"] == "my talk.wav #3 (0:12.5–0:20.0)"


def test_a_box_job_has_no_transcript_sections_and_reports_precision_recall() -> None:
    report = build_quality_report(
        task_agreements={"i1": 0.9},
        delivered=[
            DeliveredTask("i1", "a.png", 0.9, True, True, box_counts=(3, 3, 4)),
            DeliveredTask("i2", "a.png", 0.8, True, False, box_counts=(1, 2, 1)),
        ],
        sources=[SourceFile("a.png", "image")],
        kind="image_boxes",
        job={"id": "j", "kind": "image_boxes", "failed_sources": [], "cost": None},
    )
    assert report["draft_vs_final"] is None
    boxes = report["sources"][0]["boxes"]
    assert boxes == {"checked_tasks": 2, "precision": 0.8, "recall": 0.8}
    html = render_report_html(report)
    assert "Machine draft" not in html and "Draft vs final" not in html and "WER" not in html
    assert "[]" not in html and "Files that failed" in html and "not priced" in html


def test_draft_versus_final_wer() -> None:
    drafts = _full_report()["draft_vs_final"]
    assert drafts["tasks"] == 3
    assert drafts["per_task"] == [
        {"task_id": "t1", "task": "t1", "wer": 0.0},
        {"task_id": "t2", "task": "t2", "wer": 1.0},
        {"task_id": "t4", "task": "t4", "wer": 3.0},
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
