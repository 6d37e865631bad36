"""The unit of work, the outbox and its relay, stage leases and the stall sweep, on a real
(SQLite) database: what commits together, what a failed send leaves, when a stage is resent."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.db.models import JobRow, utcnow
from engine.domain.job_stage import JobStage
from engine.jobs.service import move_job_to
from engine.pipeline.relay import relay
from engine.pipeline.stage_leases import stage_lease
from engine.pipeline.stalls import requeue_stalled
from engine.unit_of_work import SqlAlchemyUnitOfWork
from tests.unit.fakes import FakeTaskQueue


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[object]:
    from engine.db.migrate import upgrade_database
    from engine.db.session import get_engine, get_sessionmaker

    url = f"sqlite:///{tmp_path / 'kazi.sqlite3'}"
    upgrade_database(url)
    yield get_sessionmaker(url)
    get_engine(url).dispose()


def _job(sessions, stage: JobStage = JobStage.RECEIVED, kind: str = "transcription") -> str:  # type: ignore[no-untyped-def]
    from engine.db.models import ClientRow

    job_id = str(uuid.uuid4())
    with SqlAlchemyUnitOfWork(sessions) as uow:
        client = ClientRow(id=str(uuid.uuid4()), name=f"c-{job_id[:8]}")
        uow.clients.add(client)
        uow.jobs.add(JobRow(id=job_id, client_id=client.id, kind=kind, spec={"kind": kind},
                            stage=stage.value))  # fmt: skip
        uow.commit()
    return job_id


def _steps(sessions, job_id: str) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    with SqlAlchemyUnitOfWork(sessions) as uow:
        return [(r.task, r.sent_at is not None) for r in uow.outbox.for_job(job_id)]


def _move(sessions, queue, job_id: str, stage: JobStage, *, fail: bool = False) -> None:  # type: ignore[no-untyped-def]
    with SqlAlchemyUnitOfWork(sessions, queue) as uow:
        job = uow.jobs.get(job_id, for_update=True)
        assert job is not None
        move_job_to(uow, job, stage)
        if fail:
            raise RuntimeError("the use case failed after the stage change")
        uow.commit()


def test_a_stage_change_and_its_next_step_commit_together(sessions) -> None:  # type: ignore[no-untyped-def]
    queue = FakeTaskQueue()
    job_id = _job(sessions, JobStage.SPLITTING)
    _move(sessions, queue, job_id, JobStage.SPLIT)
    assert _steps(sessions, job_id) == [("kazi.asr.draft_job", True)]
    assert queue.sent == [("kazi.asr.draft_job", [job_id], "asr")]


def test_a_rolled_back_stage_change_leaves_no_step(sessions) -> None:  # type: ignore[no-untyped-def]
    queue = FakeTaskQueue()
    job_id = _job(sessions, JobStage.SPLITTING)
    with pytest.raises(RuntimeError):
        _move(sessions, queue, job_id, JobStage.SPLIT, fail=True)
    assert _steps(sessions, job_id) == []
    assert queue.sent == []
    with SqlAlchemyUnitOfWork(sessions) as uow:
        assert uow.jobs.get(job_id).stage == "splitting"  # type: ignore[union-attr]


def test_a_step_the_broker_refused_is_sent_by_the_next_relay(sessions) -> None:  # type: ignore[no-untyped-def]
    down = FakeTaskQueue(down=True)
    job_id = _job(sessions, JobStage.SPLITTING)
    _move(sessions, down, job_id, JobStage.SPLIT)  # the commit stands; only the send failed
    assert _steps(sessions, job_id) == [("kazi.asr.draft_job", False)]
    with SqlAlchemyUnitOfWork(sessions) as uow:
        [row] = uow.outbox.for_job(job_id)
        assert row.attempts == 1 and "broker is down" in (row.last_error or "")

    def uow():  # type: ignore[no-untyped-def]
        return SqlAlchemyUnitOfWork(sessions)

    # The beat leaves rows younger than its minimum age to the process that wrote them.
    assert relay(uow, FakeTaskQueue(), min_age=timedelta(hours=1)) == 0
    up = FakeTaskQueue()
    assert relay(uow, up, min_age=timedelta(0)) == 1
    assert up.sent == [("kazi.asr.draft_job", [job_id], "asr")]
    assert _steps(sessions, job_id) == [("kazi.asr.draft_job", True)]
    assert relay(uow, up) == 0  # nothing is sent twice by the relay itself


def test_a_redelivered_task_reentering_its_stage_routes_nothing_new(sessions) -> None:  # type: ignore[no-untyped-def]
    job_id = _job(sessions, JobStage.SPLITTING)
    _move(sessions, None, job_id, JobStage.SPLITTING)
    assert _steps(sessions, job_id) == []


def _sweep(sessions, stall_seconds: float) -> list[str]:  # type: ignore[no-untyped-def]
    with SqlAlchemyUnitOfWork(sessions) as uow:
        found = requeue_stalled(uow, stall_seconds)
        uow.commit()
    return found


def _age_job(sessions, job_id: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    with SqlAlchemyUnitOfWork(sessions) as uow:
        uow.session.execute(
            update(JobRow).where(JobRow.id == job_id)
            .values(updated_at=utcnow() - timedelta(seconds=seconds))
        )  # fmt: skip
        uow.commit()


def test_the_sweep_resends_a_quiet_job_once_per_stall_period(sessions) -> None:  # type: ignore[no-untyped-def]
    job_id = _job(sessions, JobStage.DRAFTING)
    _age_job(sessions, job_id, 600)
    assert _sweep(sessions, 3600) == []
    assert _sweep(sessions, 120) == [job_id]
    assert _steps(sessions, job_id) == [("kazi.asr.draft_job", False)]
    # Its step is pending: the relay owns it, the sweep does not pile up copies.
    assert _sweep(sessions, 0) == []


def test_the_sweep_leaves_a_heart_beating_stage_alone_and_resends_it_after_death(sessions) -> None:  # type: ignore[no-untyped-def]
    job_id = _job(sessions, JobStage.SPLITTING)
    _age_job(sessions, job_id, 600)

    def uow():  # type: ignore[no-untyped-def]
        return SqlAlchemyUnitOfWork(sessions)

    with stage_lease(uow, job_id, interval_seconds=0.2) as holder:
        with uow() as check:
            first = check.stage_leases.get(job_id)
            assert first is not None and first.holder == holder
            before = first.heartbeat_at
        time.sleep(0.7)
        with uow() as check:
            lease = check.stage_leases.get(job_id)
            assert lease is not None and lease.heartbeat_at > before
        assert _sweep(sessions, 0.5) == []  # alive: heart-beat within the last 0.5 s
    with uow() as check:
        lease = check.stage_leases.get(job_id)
        assert lease is not None and lease.holder is None  # released, not deleted
    time.sleep(0.6)
    assert _sweep(sessions, 0.5) == [job_id]
    assert _steps(sessions, job_id) == [("kazi.ingest.split_job", False)]


@pytest.mark.parametrize("stage", [JobStage.LABELING, JobStage.REVIEWING, JobStage.DELIVERED,
                                   JobStage.FAILED])  # fmt: skip
def test_the_sweep_never_resends_jobs_waiting_for_people_or_done(sessions, stage) -> None:  # type: ignore[no-untyped-def]
    job_id = _job(sessions, stage)
    _age_job(sessions, job_id, 10_000)
    assert _sweep(sessions, 1) == []


def test_a_lease_held_by_a_dead_process_of_this_host_is_stale_at_once(sessions) -> None:  # type: ignore[no-untyped-def]
    import socket
    import subprocess

    job_id = _job(sessions, JobStage.DRAFTING)
    _age_job(sessions, job_id, 30)
    gone = subprocess.Popen(["true"])
    gone.wait()
    with SqlAlchemyUnitOfWork(sessions) as uow:
        uow.stage_leases.hold(job_id, "drafting", f"{socket.gethostname()}:{gone.pid}:x", utcnow())
        uow.commit()
    assert _sweep(sessions, 3600) == [job_id]
    # A live holder (this test process) keeps it, however long the stall period.
    with SqlAlchemyUnitOfWork(sessions) as uow:
        uow.stage_leases.hold(
            job_id, "drafting", f"{socket.gethostname()}:{os.getpid()}:y", utcnow()
        )
        uow.commit()
    with SqlAlchemyUnitOfWork(sessions) as uow:
        uow.outbox.mark_sent([r.id for r in uow.outbox.for_job(job_id)], utcnow())
        uow.commit()
    assert _sweep(sessions, 3600) == []
