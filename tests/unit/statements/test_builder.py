"""The statement's figures: working time from leases only, earnings, payouts and benefits from
the ledger, per month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    TransactionKind,
    Transfer,
    entry,
    reversal_of,
)
from engine.statements.builder import (
    BadMonth,
    WorkerNotFound,
    build_statement,
    lease_seconds,
    month_bounds,
)
from engine.statements.repository import SubmittedLease
from tests.unit.fakes import FakeUnitOfWork

T0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


@dataclass
class _Worker:
    id: str
    handle: str


class _Workers:
    def get(self, worker_id: str) -> _Worker | None:
        return _Worker("w1", "amina") if worker_id == "w1" else None


class _Statements:
    def __init__(self, leases: list[SubmittedLease]) -> None:
        self.leases = leases

    def submitted_leases(self, worker_id, since, until):  # type: ignore[no-untyped-def]
        return [x for x in self.leases if since <= x.created_at < until]

    def answers_per_job(self, worker_id, since, until):  # type: ignore[no-untyped-def]
        return {"job-a": (3, 1)}

    def reviews_per_job(self, worker_id, since, until):  # type: ignore[no-untyped-def]
        return {"job-b": 2}

    def job_kinds(self, job_ids):  # type: ignore[no-untyped-def]
        return {"job-a": "transcription", "job-b": "image_boxes"}


def _lease(job: str, start: datetime, minutes: int, lease_minutes: int = 15) -> SubmittedLease:
    return SubmittedLease(
        job, "answer", start, start + timedelta(minutes=minutes),
        start + timedelta(minutes=lease_minutes),
    )  # fmt: skip


def _ref(kind: AccountKind, owner: str = "w1") -> AccountRef:
    return AccountRef(kind, owner, "KES")


PENDING, AVAILABLE, BENEFITS = (
    _ref(AccountKind.WORKER_PENDING),
    _ref(AccountKind.WORKER_AVAILABLE),
    _ref(AccountKind.WORKER_BENEFITS),
)
RESERVED = _ref(AccountKind.CLIENT_RESERVED, "job-a")
IN_TRANSIT = _ref(AccountKind.PROVIDER_IN_TRANSIT, "mpesa")


def _uow(leases: list[SubmittedLease]) -> FakeUnitOfWork:
    uow = FakeUnitOfWork(workers=_Workers(), statements=_Statements(leases))
    ledger = uow.ledger
    ledger.balances[RESERVED] = 0
    ledger.floors[RESERVED] = None

    def post(key: str, kind: TransactionKind, *transfers: Transfer, at: datetime) -> None:
        ledger.now = at
        ledger.post(entry(key, kind, *transfers))

    october = datetime(2026, 10, 20, tzinfo=UTC)
    post("earn:answer:0", TransactionKind.EARN, Transfer(RESERVED, PENDING, 500), at=october)
    post("earn:answer:1", TransactionKind.EARN, Transfer(RESERVED, PENDING, 10_000), at=T0)
    post("earn:answer:2", TransactionKind.EARN, Transfer(RESERVED, PENDING, 2_000), at=T0)
    ledger.now = T0
    ledger.post(reversal_of(ledger.entry("earn:answer:2")))  # type: ignore[arg-type]
    post("release:earn:answer:1", TransactionKind.RELEASE_HOLD,
         Transfer(PENDING, AVAILABLE, 10_000), at=T0)  # fmt: skip
    payout = (Transfer(AVAILABLE, IN_TRANSIT, 9_500), Transfer(AVAILABLE, BENEFITS, 500))
    post("payout:b1:w1", TransactionKind.PAYOUT, *payout, at=T0)
    post("earn:answer:3", TransactionKind.EARN, Transfer(RESERVED, PENDING, 700),
         at=datetime(2026, 12, 1, tzinfo=UTC))  # fmt: skip
    return uow


def test_the_month_statement() -> None:
    leases = [
        _lease("job-a", T0, 5),
        _lease("job-a", T0 + timedelta(hours=1), 40),  # submitted late: capped at 15 min
        _lease("job-b", T0 + timedelta(hours=2), 10),
        _lease("job-b", datetime(2026, 12, 1, tzinfo=UTC), 10),  # next month
    ]
    doc = build_statement(_uow(leases), "w1", "2026-11", issuer_url="https://kazi.example")
    work = doc["work"]
    assert work["working_seconds"] == (5 + 15 + 10) * 60
    assert work["working_time"] == "0 h 30 min"
    assert work["submitted_leases"] == 3
    assert (work["answers"], work["gold_answers"], work["reviews"]) == (3, 1, 2)
    assert [j["job_id"] for j in work["jobs"]] == ["job-a", "job-b"]
    [money] = doc["money"]
    assert money["currency"] == "KES"
    assert money["earned"]["minor"] == 12_000  # October's and December's are left out
    assert money["corrections"]["minor"] == -2_000
    assert money["net_earnings"]["minor"] == 10_000
    assert money["released_to_available"]["minor"] == 10_000
    assert money["paid_out"]["minor"] == 9_500
    assert money["benefits_saved"]["minor"] == 500
    # Balances at the month's end include October, not December.
    closing = {k: v["minor"] for k, v in money["closing_balances"].items()}
    assert closing == {"pending": 500, "available": 0, "benefits": 500}
    assert doc["payouts"][0]["sent"]["minor"] == 9_500
    assert doc["period"] == {
        "month": "2026-11", "from": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"
    }  # fmt: skip
    # No float anywhere: the canonical form is the same in every JSON library.
    assert "." not in str([v for v in _numbers(doc)])


def _numbers(value):  # type: ignore[no-untyped-def]
    if isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield value


def test_an_unknown_worker() -> None:
    with pytest.raises(WorkerNotFound):
        build_statement(_uow([]), "nobody", "2026-11")


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "2026-1", "26-01", "../", "2026-11-01", "", "1999-12",
              "９９９９-01", "2026-11\n"],
)  # fmt: skip
def test_bad_months(month: str) -> None:
    with pytest.raises(BadMonth):
        month_bounds(month)


def test_month_bounds_roll_over_the_year() -> None:
    assert month_bounds("2026-12") == (
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )  # fmt: skip


def test_lease_time_never_goes_negative_or_past_expiry() -> None:
    assert lease_seconds(_lease("j", T0, -1)) == 0
    assert lease_seconds(_lease("j", T0, 90, lease_minutes=15)) == 15 * 60
