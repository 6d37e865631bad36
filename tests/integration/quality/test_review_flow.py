"""A transcription job's answers flow through consensus, scoring, skills, QA review and
feedback: real clips, real drafts, the worker and review APIs, the Celery score stage."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from engine.domain.text_normalization import normalize_text
from tests.conftest import SPEECH, wait_for_stage

CLIPS = {
    "1089-134691-0000.flac": "he could wait no longer",
    "1089-134686-0001.flac": "stuff it into you his belly counselled him",
}


def _worker(ctx, tier):  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    w = ctx.in_unit_of_work(register_worker, f"q-{uuid.uuid4().hex[:10]}", tier)
    return w.id, {"Authorization": f"Bearer {w.api_key}"}


def _answer_all(api, auth, job_id, text_for):  # type: ignore[no-untyped-def]
    while (
        resp := api.post("/v1/work/next", headers=auth, json={"job_id": job_id})
    ).status_code == 200:
        lease = resp.json()
        body = {"client_answer_id": str(uuid.uuid4()), "answer": {"text": text_for(lease)},
                "time_spent_seconds": 20}  # fmt: skip
        assert (
            api.post(f"/v1/work/{lease['lease_id']}/submit", headers=auth, json=body).status_code
            == 201
        )
    assert resp.status_code == 204, resp.text


def test_answers_are_merged_scored_reviewed_and_fed_back(
    api, ctx, client_auth, celery_worker_process
):
    from engine.db.models import AnswerScoreRow, TaskResultRow, WorkerRow

    _, auth = client_auth
    files = [("files", (name, (SPEECH / "librispeech" / name).read_bytes(), "audio/flac"))
             for name in CLIPS]  # fmt: skip
    spec = {"kind": "transcription", "overlap": 3, "gold_ratio": 0.0}
    resp = api.post("/v1/jobs", headers=auth, data={"spec": json.dumps(spec)}, files=files)
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["id"]
    assert (
        wait_for_stage(ctx, job_id, {"labeling", "failed"}, 300, celery_worker_process)
        == "labeling"
    )
    tasks = api.get(f"/v1/jobs/{job_id}/tasks", headers=auth).json()["items"]
    truth = {t["id"]: CLIPS[t["source_filename"]] for t in tasks}

    (good1, g1), (_, g2), (bad, b) = (
        _worker(ctx, "qualified"),
        _worker(ctx, "qualified"),
        _worker(ctx, "trainee"),
    )
    _answer_all(api, g1, job_id, lambda lease: truth[lease["task_id"]])
    _answer_all(api, g2, job_id, lambda lease: truth[lease["task_id"]].upper() + ".")
    # The careless worker types something else entirely.
    _answer_all(api, b, job_id, lambda lease: "lorem ipsum dolor sit amet")

    # The last answer sent the job to scoring; low agreement sends results to review.
    assert (
        wait_for_stage(
            ctx, job_id, {"reviewing", "assembling", "failed"}, 120, celery_worker_process
        )
        == "reviewing"
    )
    with ctx.sessions() as session:
        results = {
            r.task_id: r
            for r in session.scalars(select(TaskResultRow).where(TaskResultRow.job_id == job_id))
        }
        scores = session.scalars(
            select(AnswerScoreRow).where(AnswerScoreRow.job_id == job_id)
        ).all()
    assert set(results) == set(truth)
    # The consensus is the careful workers' text (the draft votes too), not the careless one.
    for task_id, result in results.items():
        assert normalize_text(result.consensus["text"]) == normalize_text(truth[task_id]), (
            result.consensus
        )
        assert result.status == "in_review" and result.agreement < 0.75
    by_worker: dict[str, list[float]] = {}
    for s in scores:
        by_worker.setdefault(s.worker_id, []).append(s.score)
    assert min(by_worker[good1]) == 1.0 and max(by_worker[bad]) < 0.2

    # A reviewer corrects one result and accepts the other.
    _, r = _worker(ctx, "reviewer")
    # A worker who is not a reviewer cannot take review work.
    assert api.post("/v1/review/next", headers=g1, json={"job_id": job_id}).status_code == 403
    decided = []
    while (
        resp := api.post("/v1/review/next", headers=r, json={"job_id": job_id})
    ).status_code == 200:
        lease = resp.json()
        consensus = normalize_text(lease["consensus"]["text"])
        assert consensus == normalize_text(truth[lease["task_id"]]) and len(lease["answers"]) == 3
        if not decided:
            body = {"client_review_id": "r1", "decision": "correct",
                    "answer": {"text": truth[lease["task_id"]] + " indeed"}}  # fmt: skip
        else:
            body = {"client_review_id": "r2", "decision": "accept"}
        assert (
            api.post(f"/v1/review/{lease['lease_id']}/submit", headers=r, json=body).status_code
            == 201
        )
        decided.append(lease["task_id"])
    assert sorted(decided) == sorted(truth)
    assert wait_for_stage(
        ctx, job_id, {"assembling", "delivered", "failed"}, 120, celery_worker_process
    ) in {"assembling", "delivered"}
    with ctx.sessions() as session:
        corrected = session.get(TaskResultRow, decided[0])
        assert corrected.final == {"text": truth[decided[0]] + " indeed"}  # type: ignore[union-attr]
        assert corrected.final_source == "review"  # type: ignore[union-attr]
        rescored = session.scalars(
            select(AnswerScoreRow).where(AnswerScoreRow.task_id == decided[0])
        ).all()
        assert {s.against for s in rescored} == {"review"}
        assert session.get(WorkerRow, bad).tier == "trainee"  # type: ignore[union-attr]

    # Every worker can see how each answer scored, with the word diff against the final text.
    feedback = api.get("/v1/work/feedback", headers=b).json()
    assert len(feedback) == 2 and all(item["score"] < 0.2 for item in feedback)
    item = next(i for i in feedback if i["task_id"] == decided[0])
    assert item["expected"] == {"text": truth[decided[0]] + " indeed"}
    ops = {d["op"] for d in item["diff"]}
    assert "substitute" in ops and ops <= {"substitute", "delete", "insert"}
    # Case and punctuation are normalised away: the careful worker's accepted answer is exact.
    mine = {i["task_id"]: i for i in api.get("/v1/work/feedback", headers=g2).json()}
    assert mine[decided[1]]["score"] == 1.0 and mine[decided[1]]["diff"] == []
    assert [d["op"] for d in mine[decided[0]]["diff"]] == ["delete"]
