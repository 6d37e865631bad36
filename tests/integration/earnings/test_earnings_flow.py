"""Workers are paid through the real pipeline: a classification job with a pay rate, answers
through the worker API, Celery scoring, QA review, a dispute overturned by a reviewer, the
hold released, every posting once and the ledger whole."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from engine.domain.money import Money
from tests.conftest import make_client, wait_for_stage
from tests.integration.work.conftest import publish_image_job

PAY_RATE = {"amount": "12.50", "currency": "KES", "policy": "accepted_only",
            "review_amount": "2.00"}  # fmt: skip


def _worker(ctx, tier):  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    w = ctx.in_unit_of_work(register_worker, f"pay-{uuid.uuid4().hex[:10]}", tier)
    return w.id, {"Authorization": f"Bearer {w.api_key}"}


def _answer(api, auth, job_id, label_of):  # type: ignore[no-untyped-def]
    while (
        r := api.post("/v1/work/next", headers=auth, json={"job_id": job_id})
    ).status_code == 200:
        lease = r.json()
        body = {
            "client_answer_id": str(uuid.uuid4()),
            "answer": {"label": label_of(lease["task_id"])},
        }
        assert (
            api.post(f"/v1/work/{lease['lease_id']}/submit", headers=auth, json=body).status_code
            == 201
        )
    assert r.status_code == 204, r.text


def _minor(view: dict, kind: str) -> int:  # type: ignore[type-arg]
    (row,) = [b for b in view["balances"] if b["currency"] == "KES"]
    return int(row[kind]["minor"])


def test_answers_and_reviews_earn_once_and_disputes_overturn(api, ctx, celery_worker_process):  # type: ignore[no-untyped-def]
    from engine.earnings.service import release_held_earnings
    from engine.ledger.service import check, topup

    client_id, auth = make_client(ctx)
    ctx.in_unit_of_work(topup, client_id, Money("KES", 100_000), "deposit-1")
    job_id = publish_image_job(api, ctx, auth, celery_worker_process, 2, overlap=3,
                               labels=["cat", "dog", "bird"], pay_rate=PAY_RATE)  # fmt: skip
    tasks = [t["id"] for t in api.get(f"/v1/jobs/{job_id}/tasks", headers=auth).json()["items"]]
    agreed, split = sorted(tasks)
    (w1, a1), (w2, a2), (w3, a3) = (_worker(ctx, "qualified") for _ in range(3))
    _answer(api, a1, job_id, lambda t: "cat")
    _answer(api, a2, job_id, lambda t: "cat" if t == agreed else "dog")
    _answer(api, a3, job_id, lambda t: "cat" if t == agreed else "bird")
    assert wait_for_stage(ctx, job_id, {"reviewing", "assembling", "failed"}, 120,
                          celery_worker_process) == "reviewing"  # fmt: skip

    # The agreed task is final: its three answers earned; the split one waits for review.
    mine = api.get("/v1/work/earnings", headers=a3).json()
    by_task = {i["task_id"]: i for i in mine["answers"]}
    assert by_task[agreed]["status"] == "earned"
    assert by_task[agreed]["amount"]["text"] == "KES 12.50"
    assert by_task[agreed]["reason"] == "accepted: 1 task × KES 12.50"
    assert by_task[split]["status"] == "waiting"
    assert _minor(mine, "pending") == 1250

    _, reviewer = _worker(ctx, "reviewer")
    lease = api.post("/v1/review/next", headers=reviewer, json={"job_id": job_id}).json()
    assert lease["task_id"] == split
    body = {"client_review_id": "r1", "decision": "correct", "answer": {"label": "cat"}}
    assert (
        api.post(f"/v1/review/{lease['lease_id']}/submit", headers=reviewer, json=body).status_code
        == 201
    )

    mine = api.get("/v1/work/earnings", headers=a3).json()
    rejected = {i["task_id"]: i for i in mine["answers"]}[split]
    assert rejected["status"] == "unpaid" and rejected["disputable"] is True
    assert rejected["reason"].startswith("not accepted:")
    assert _minor(api.get("/v1/work/earnings", headers=a1).json(), "pending") == 2500
    reviewed = api.get("/v1/work/earnings", headers=reviewer).json()
    assert [r["amount"]["minor"] for r in reviewed["reviews"]] == [200]

    # Disputes: only your own rejected answer, once.
    answer_id = rejected["answer_id"]
    accepted_id = {
        i["task_id"]: i for i in api.get("/v1/work/earnings", headers=a1).json()["answers"]
    }[split]["answer_id"]
    assert api.post(f"/v1/work/answers/{answer_id}/dispute", headers=a1, json={}).status_code == 404
    assert (
        api.post(f"/v1/work/answers/{accepted_id}/dispute", headers=a1, json={}).json()["code"]
        == "not_disputable"
    )
    opened = api.post(
        f"/v1/work/answers/{answer_id}/dispute", headers=a3, json={"reason": "it is a dog"}
    )
    assert opened.status_code == 201 and opened.json()["status"] == "open"
    again = api.post(f"/v1/work/answers/{answer_id}/dispute", headers=a3, json={})
    assert again.status_code == 409 and again.json()["code"] == "already_disputed"

    # Held earnings wait while a dispute is open; the reviewer overturns it.
    listed = api.get("/v1/review/disputes", headers=reviewer).json()
    dispute_id = opened.json()["dispute_id"]
    assert dispute_id in [d["dispute_id"] for d in listed]
    assert api.get("/v1/review/disputes", headers=a1).status_code == 403
    decided = api.post(f"/v1/review/disputes/{dispute_id}/decide", headers=reviewer,
                       json={"decision": "overturn"})  # fmt: skip
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "overturned" and decided.json()["earned"]["minor"] == 1250
    twice = api.post(f"/v1/review/disputes/{dispute_id}/decide", headers=reviewer,
                     json={"decision": "uphold"})  # fmt: skip
    assert twice.status_code == 409
    mine = api.get("/v1/work/earnings", headers=a3).json()
    assert _minor(mine, "pending") == 2500 and _minor(mine, "available") == 0

    later = datetime.now(UTC) + timedelta(days=8)
    assert ctx.in_unit_of_work(release_held_earnings, later) >= 6  # 5 answers + 1 review
    assert ctx.in_unit_of_work(release_held_earnings, later) == 0
    for worker_auth, expected in ((a1, 2500), (a2, 1250), (a3, 2500)):
        view = api.get("/v1/work/earnings", headers=worker_auth).json()
        assert (_minor(view, "pending"), _minor(view, "available")) == (0, expected)
        assert all(i["available"] for i in view["answers"] if i["status"] == "earned")
    assert ctx.in_unit_of_work(check).clean
