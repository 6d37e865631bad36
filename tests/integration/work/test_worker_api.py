"""The worker API on PostgreSQL: lease, submit, release, the overlap cap and bad input."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from sqlalchemy import func, select

from tests.integration.work.conftest import publish_image_job


def _next(api, auth, **body):  # type: ignore[no-untyped-def]
    return api.post("/v1/work/next", headers=auth, json=body)


def _submit(api, auth, lease_id, answer, cid=None):  # type: ignore[no-untyped-def]
    return api.post(
        f"/v1/work/{lease_id}/submit",
        headers=auth,
        json={"client_answer_id": cid or str(uuid.uuid4()), "answer": answer,
              "time_spent_seconds": 3.5},
    )  # fmt: skip


def _answers(ctx, job_id):  # type: ignore[no-untyped-def]
    from engine.db.models import AnswerRow

    with ctx.sessions() as session:
        return session.execute(
            select(AnswerRow.task_id, AnswerRow.worker_id, AnswerRow.payload).where(
                AnswerRow.job_id == job_id
            )
        ).all()


def test_lease_submit_and_replay(api, ctx, client_auth, celery_worker_process, new_worker):
    _, auth = client_auth
    job_id = publish_image_job(api, ctx, auth, celery_worker_process, 3, overlap=1)
    _, wauth = new_worker()
    first = _next(api, wauth, job_id=job_id)
    assert first.status_code == 200, first.text
    lease = first.json()
    assert lease["kind"] == "image_classification" and lease["labels"] == ["cat", "dog"]
    assert lease["width"] and lease["height"] and lease["draft"] is None
    link = urlsplit(lease["media_url"])
    media = api.get(f"{link.path}?{link.query}")
    assert media.status_code == 200 and media.content[:4] == b"\x89PNG"
    # Asking again before submitting returns the same lease: one live lease per worker.
    assert _next(api, wauth, job_id=job_id).json()["lease_id"] == lease["lease_id"]

    cid = str(uuid.uuid4())
    done = _submit(api, wauth, lease["lease_id"], {"label": "dog"}, cid)
    assert done.status_code == 201, done.text
    replay = _submit(api, wauth, lease["lease_id"], {"label": "dog"}, cid)
    assert replay.status_code == 200 and replay.json()["answer_id"] == done.json()["answer_id"]
    assert replay.json()["replayed"] is True
    again = _submit(api, wauth, lease["lease_id"], {"label": "cat"})
    assert again.status_code == 409 and "submitted already" in again.json()["detail"]

    second = _next(api, wauth, job_id=job_id).json()
    assert second["task_id"] != lease["task_id"]
    rows = _answers(ctx, job_id)
    assert [(r.task_id, r.payload) for r in rows] == [(lease["task_id"], {"label": "dog"})]


def test_overlap_answers_come_from_distinct_workers(
    api, ctx, client_auth, celery_worker_process, new_worker
):
    _, auth = client_auth
    job_id = publish_image_job(api, ctx, auth, celery_worker_process, 4, overlap=2)
    workers = [new_worker() for _ in range(3)]
    served = 0
    progress = True
    while progress:
        progress = False
        for _, wauth in workers:
            resp = _next(api, wauth, job_id=job_id)
            if resp.status_code == 204:
                continue
            assert _submit(api, wauth, resp.json()["lease_id"], {"label": "cat"}).status_code == 201
            served += 1
            progress = True
    rows = _answers(ctx, job_id)
    assert served == len(rows) == 4 * 2
    per_task: dict[str, set[str]] = {}
    for r in rows:
        per_task.setdefault(r.task_id, set()).add(r.worker_id)
    assert len(per_task) == 4 and all(len(ws) == 2 for ws in per_task.values())
    # Everything is answered: nobody gets more work from this job.
    assert all(_next(api, w, job_id=job_id).status_code == 204 for _, w in workers)


def test_release_returns_the_task_at_once(api, ctx, client_auth, celery_worker_process, new_worker):
    _, auth = client_auth
    job_id = publish_image_job(api, ctx, auth, celery_worker_process, 1, overlap=1)
    (_, a), (_, b) = new_worker(), new_worker()
    lease = _next(api, a, job_id=job_id).json()
    assert _next(api, b, job_id=job_id).status_code == 204
    assert api.post(f"/v1/work/{lease['lease_id']}/release", headers=a).status_code == 200
    assert api.post(f"/v1/work/{lease['lease_id']}/release", headers=a).status_code == 200
    taken = _next(api, b, job_id=job_id)
    assert taken.status_code == 200 and taken.json()["task_id"] == lease["task_id"]
    late = _submit(api, a, lease["lease_id"], {"label": "cat"})
    assert late.status_code == 409 and "released" in late.json()["detail"]


def test_bad_requests_get_clear_errors(api, ctx, client_auth, celery_worker_process, new_worker):
    _, auth = client_auth
    job_id = publish_image_job(api, ctx, auth, celery_worker_process, 2, overlap=1)
    (_, a), (_, b) = new_worker(), new_worker()
    assert _next(api, {}).status_code == 401
    assert _next(api, {"Authorization": "Bearer kazw_nope_nope"}).status_code == 401
    # A client's key is not a worker's key.
    assert _next(api, auth).status_code == 401
    lease = _next(api, a, job_id=job_id).json()
    wrong = _submit(api, a, lease["lease_id"], {"label": "horse"})
    assert wrong.status_code == 422 and "must be one of ['cat', 'dog']" in wrong.json()["detail"]
    assert _submit(api, a, lease["lease_id"], {"text": "hi"}).status_code == 422
    # Another worker's lease looks like no lease at all.
    assert _submit(api, b, lease["lease_id"], {"label": "cat"}).status_code == 404
    assert _submit(api, a, str(uuid.uuid4()), {"label": "cat"}).status_code == 404
    assert api.post(f"/v1/work/{lease['lease_id']}/submit", headers=a, json={}).status_code == 422
    assert _next(api, a, job_id=str(uuid.uuid4())).status_code == 404
    # The failed submits lost nothing: the lease still works.
    assert _submit(api, a, lease["lease_id"], {"label": "cat"}).status_code == 201


def test_paused_worker_gets_no_paid_work(api, ctx, client_auth, celery_worker_process, new_worker):
    from engine.db.models import WorkerRow

    _, auth = client_auth
    job_id = publish_image_job(api, ctx, auth, celery_worker_process, 1, overlap=1)
    worker_id, wauth = new_worker()
    with ctx.sessions.begin() as session:
        session.get(WorkerRow, worker_id).status = "paused"  # type: ignore[union-attr]
    resp = _next(api, wauth, job_id=job_id)
    assert resp.status_code == 403 and "paused" in resp.json()["detail"]


def test_gold_tasks_are_mixed_in_and_look_like_others(
    api, ctx, client_auth, celery_worker_process, new_worker
):
    from engine.db.models import AnswerRow, AssignmentRow
    from engine.work.service import DistributionSettings, lease_next

    _, auth = client_auth
    job_id = publish_image_job(
        api, ctx, auth, celery_worker_process, 2, overlap=1, gold_ratio=0.3,
        gold=[{"filename": "gold1.png", "label": "dog"}],
    )  # fmt: skip
    tasks = api.get(f"/v1/jobs/{job_id}/tasks", headers=auth).json()["items"]
    gold_task = next(t["id"] for t in tasks if t["source_filename"] == "gold1.png")
    settings = DistributionSettings(trainee_gold_ratio=0.5)
    (a, a_auth), (b, _) = new_worker("trainee"), new_worker("qualified")
    with ctx.uow() as uow:
        # draw 0.4: under the trainee ratio (0.5), over the job's (0.3) for a qualified worker.
        gold = lease_next(uow, a, settings, job_id=job_id, draw=lambda: 0.4)
        regular = lease_next(uow, b, settings, job_id=job_id, draw=lambda: 0.4)
        uow.commit()
    assert gold is not None and gold.task_id == gold_task
    assert regular is not None and regular.task_id != gold_task
    # The API shows the gold lease like any other: no expected answer, no gold flag.
    view = _next(api, a_auth, job_id=job_id).json()
    assert view["lease_id"] == gold.lease_id
    assert "dog" not in str({k: v for k, v in view.items() if k != "labels"})
    assert _submit(api, a_auth, gold.lease_id, {"label": "cat"}).status_code == 201
    with ctx.sessions() as session:
        row = session.scalar(select(AnswerRow).where(AnswerRow.task_id == gold_task))
        gold_slots = session.scalar(
            select(func.count()).where(
                AssignmentRow.task_id == gold_task, AssignmentRow.replica.is_not(None)
            )
        )
    assert row is not None and row.is_gold and row.payload == {"label": "cat"}
    # Gold does not use the job's answer slots.
    assert gold_slots == 0
    # Once a worker answered the gold task it is never served to them again.
    with ctx.uow() as uow:
        nxt = lease_next(uow, a, settings, job_id=job_id, draw=lambda: 0.0)
    assert nxt is not None and nxt.task_id != gold_task
