"""Leases under concurrency and expiry, through the service on PostgreSQL with real threads."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager

from sqlalchemy import select

from tests.integration.work.conftest import publish_image_job


@contextmanager
def committed(ctx):  # type: ignore[no-untyped-def]
    """One unit of work that commits when the block ends without an error."""
    with ctx.uow() as uow:
        yield uow
        uow.commit()


def _settings(lease_seconds: float = 900.0):  # type: ignore[no-untyped-def]
    from engine.work.service import DistributionSettings

    return DistributionSettings(lease_seconds=lease_seconds)


def test_overlap_cap_holds_under_concurrent_workers(
    api, ctx, client_auth, celery_worker_process, new_worker
):
    from engine.db.models import AnswerRow
    from engine.work.service import WorkError, lease_next, submit

    _, auth = client_auth
    tasks, overlap, n_workers = 12, 3, 16
    job_id = publish_image_job(api, ctx, auth, celery_worker_process, tasks, overlap=overlap)
    workers = [new_worker()[0] for _ in range(n_workers)]
    accepted: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(n_workers)

    def work(worker_id: str) -> None:
        try:
            start.wait()
            while True:
                with committed(ctx) as uow:
                    lease = lease_next(uow, worker_id, _settings(), job_id=job_id)
                if lease is None:
                    return
                with committed(ctx) as uow:
                    submit(uow, worker_id, lease.lease_id, {"label": "dog"},
                           client_answer_id=str(uuid.uuid4()), time_spent_seconds=0.1)  # fmt: skip
                with lock:
                    accepted.append((lease.task_id, worker_id))
        except (WorkError, Exception) as exc:  # noqa: B014 - surface anything to the assert
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with ctx.sessions() as session:
        rows = session.execute(
            select(AnswerRow.task_id, AnswerRow.worker_id).where(AnswerRow.job_id == job_id)
        ).all()
    assert len(rows) == len(accepted) == tasks * overlap
    assert sorted(rows) == sorted(accepted)
    assert set(Counter(task for task, _ in rows).values()) == {overlap}
    assert len(set(rows)) == len(rows)  # no worker answered a task twice


def test_expired_lease_returns_to_the_pool_and_late_submit_rules(
    api, ctx, client_auth, celery_worker_process, new_worker
):
    from engine.work.service import SubmitRefused, expire_leases, lease_next, submit

    _, auth = client_auth
    job_id = publish_image_job(api, ctx, auth, celery_worker_process, 1, overlap=1)
    (a, _), (b, _), (c, _) = new_worker(), new_worker(), new_worker()
    short = _settings(lease_seconds=0.5)
    with committed(ctx) as uow:
        lease_a = lease_next(uow, a, short, job_id=job_id)
    with committed(ctx) as uow:
        assert lease_next(uow, b, short, job_id=job_id) is None
    time.sleep(0.8)
    # The abandoned task is back: B gets it without anyone sweeping.
    with committed(ctx) as uow:
        lease_b = lease_next(uow, b, _settings(), job_id=job_id)
    assert lease_a is not None and lease_b is not None
    assert lease_b.task_id == lease_a.task_id and lease_b.lease_id != lease_a.lease_id
    # A comes back late: B holds the only slot, so A is refused with the reason.
    with committed(ctx) as uow:
        try:
            submit(uow, a, lease_a.lease_id, {"label": "cat"},
                   client_answer_id="late-a", time_spent_seconds=None)  # fmt: skip
        except SubmitRefused as exc:
            assert "has all the answers it needs" in exc.message
        else:
            raise AssertionError("a late submit on a taken task was accepted")
    with committed(ctx) as uow:
        ok = submit(uow, b, lease_b.lease_id, {"label": "dog"},
                    client_answer_id="b-1", time_spent_seconds=None)  # fmt: skip
    assert not ok.late

    # A second job: the lease runs out, the sweep reopens it, and the late submit still counts
    # because the task needs the answer.
    job2 = publish_image_job(api, ctx, auth, celery_worker_process, 1, overlap=1)
    with committed(ctx) as uow:
        lease_c = lease_next(uow, c, short, job_id=job2)
    time.sleep(0.8)
    with committed(ctx) as uow:
        assert expire_leases(uow) >= 1
    with committed(ctx) as uow:
        late = submit(uow, c, lease_c.lease_id, {"label": "cat"},  # type: ignore[union-attr]
                      client_answer_id="late-c", time_spent_seconds=None)  # fmt: skip
    assert late.late
