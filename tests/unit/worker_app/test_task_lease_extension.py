"""The app's heartbeat use case, ``extend_lease``, against the fake unit of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.work import service
from engine.work.service import DistributionSettings, LeaseExpired, LeaseNotFound
from tests.unit.work.fakes import FakeStore, FakeWorkRepository, unit_of_work
from tests.unit.work.test_distribution import run_out

SETTINGS = DistributionSettings(lease_seconds=900, trainee_gold_ratio=0.0)


@pytest.fixture
def leased():  # type: ignore[no-untyped-def]
    store = FakeStore()
    uow = unit_of_work(store, work=FakeWorkRepository(store))
    job = store.add_job()
    store.add_task(job)
    worker = store.add_worker()
    lease = service.lease_next(uow, worker.id, SETTINGS, job_id=job.id, channel="app")
    assert lease is not None
    return store, uow, worker, lease


def test_a_live_lease_runs_lease_seconds_from_now_on_lease_and_slot(leased):  # type: ignore[no-untyped-def]
    store, uow, worker, lease = leased
    later = datetime.now(UTC) + timedelta(seconds=600)
    extended = service.extend_lease(uow, worker.id, lease.lease_id, SETTINGS, now=later)
    assert extended.expires_at == later + timedelta(seconds=900)
    assert store.leases[lease.lease_id].expires_at == extended.expires_at
    assert store.slots[lease.assignment_id].expires_at == extended.expires_at
    assert uow.commits == 0


def test_an_extension_never_shortens_a_lease(leased):  # type: ignore[no-untyped-def]
    store, uow, worker, lease = leased
    earlier = lease.expires_at - timedelta(seconds=901)  # new end would be 1 s before the old
    extended = service.extend_lease(uow, worker.id, lease.lease_id, SETTINGS, now=earlier)
    assert extended.expires_at == lease.expires_at


def test_a_run_out_released_or_submitted_lease_is_not_revived(leased):  # type: ignore[no-untyped-def]
    store, uow, worker, lease = leased
    run_out(store, lease.lease_id)
    before = store.leases[lease.lease_id].expires_at
    with pytest.raises(LeaseExpired) as refused:
        service.extend_lease(uow, worker.id, lease.lease_id, SETTINGS)
    assert refused.value.status == 409 and refused.value.code == "lease_expired"
    assert store.leases[lease.lease_id].expires_at == before

    second = store.add_worker()
    fresh = service.lease_next(uow, second.id, SETTINGS, channel="app")
    assert fresh is not None
    service.release(uow, second.id, fresh.lease_id)
    with pytest.raises(LeaseExpired):
        service.extend_lease(uow, second.id, fresh.lease_id, SETTINGS)


def test_unknown_or_another_workers_lease_is_not_found(leased):  # type: ignore[no-untyped-def]
    store, uow, worker, lease = leased
    other = store.add_worker()
    for worker_id, lease_id in ((worker.id, "no-such-lease"), (other.id, lease.lease_id)):
        with pytest.raises(LeaseNotFound):
            service.extend_lease(uow, worker_id, lease_id, SETTINGS)
