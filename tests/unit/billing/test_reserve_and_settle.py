"""Intake reserves the quote (402 when short); delivery takes the fee and settles the rest.
Every entry balances, and the charge equals what the client's funds gave up."""

from __future__ import annotations

import pytest

from engine.billing.errors import InsufficientFundsForJob, InvoiceOutdated
from engine.billing.service import (
    client_funds,
    job_charge,
    job_reservation,
    reserve_for_job,
    settle_at_delivery,
)
from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    TransactionKind,
    Transfer,
    earn_answer_key,
    earn_review_key,
    entry,
    platform_fees,
    reversal_of,
)
from engine.domain.money import Money
from engine.domain.pricing import MediaItem
from engine.ledger.service import topup
from engine.settings import Settings
from schemas.jobs import JobSpec
from tests.unit.billing.billing_fakes import billing_uow

PRODUCTION = Settings(database_url="postgresql+psycopg://x@127.0.0.1/x", review_sample_rate=0.05)
EMBEDDED = Settings(database_url="", broker_url="", store_backend="local", review_sample_rate=0.05)
MEDIA = tuple(MediaItem(f"{i}.png") for i in range(10))
CLIENT = "client-1"
JOB = "job-1"


def _spec(amount: str = "10.00", review: str = "2.00") -> JobSpec:
    return JobSpec.model_validate(
        {
            "kind": "image_classification",
            "labels": ["cat", "dog"],
            "overlap": 2,
            "pay_rate": {"amount": amount, "currency": "KES", "review_amount": review},
        }
    )


def _reserve(uow, settings: Settings = PRODUCTION, spec: JobSpec | None = None):  # type: ignore[no-untyped-def]
    return reserve_for_job(
        uow, client_id=CLIENT, job_id=JOB, spec=spec or _spec(), media=MEDIA, settings=settings
    )


def _earn(uow, key: str, worker: str, minor: int, kind=TransactionKind.EARN) -> None:  # type: ignore[no-untyped-def]
    uow.ledger.post(
        entry(
            key,
            kind,
            Transfer(
                job_reservation(JOB, "KES"),
                AccountRef(AccountKind.WORKER_PENDING, worker, "KES"),
                minor,
            ),
        )
    )


def _funds(uow) -> int:  # type: ignore[no-untyped-def]
    return int(uow.ledger.balance(client_funds(CLIENT, "KES")))


def test_intake_reserves_the_quote_total() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    topup(uow, CLIENT, Money("KES", 100_000), "deposit-1")
    quote = _reserve(uow)
    assert quote is not None
    # 10 tasks × 2 × KES 10 + 2 reviews × KES 2, plus 15 %: KES 234.60.
    assert quote.total == Money("KES", 23_460)
    assert _funds(uow) == 100_000 - 23_460
    assert uow.ledger.balance(job_reservation(JOB, "KES")) == 23_460
    assert uow.ledger.entry(f"reserve:job:{JOB}") is not None
    assert uow.billing.rows[JOB].quoted_minor == 23_460
    assert uow.ledger.check().clean


def test_a_job_without_pay_rate_posts_nothing() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    spec = JobSpec.model_validate({"kind": "image_classification", "labels": ["a", "b"]})
    assert _reserve(uow, spec=spec) is None
    assert uow.ledger.posted == [] and uow.billing.rows == {}


def test_a_short_client_gets_402_with_the_shortfall_and_nothing_is_posted() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    topup(uow, CLIENT, Money("KES", 10_000), "deposit-1")
    with pytest.raises(InsufficientFundsForJob) as refused:
        _reserve(uow)
    error = refused.value
    assert (error.status, error.code) == (402, "insufficient_funds")
    assert error.shortfall == Money("KES", 13_460)
    assert "KES 134.60" in error.message and "KES 234.60" in error.message
    assert _funds(uow) == 10_000
    assert uow.ledger.entry(f"reserve:job:{JOB}") is None and uow.billing.rows == {}


def test_a_credit_limit_covers_the_rest() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    topup(uow, CLIENT, Money("KES", 10_000), "deposit-1")
    uow.ledger.set_floor(client_funds(CLIENT, "KES"), -20_000)
    _reserve(uow)
    assert _funds(uow) == 10_000 - 23_460


def test_the_embedded_demo_tenant_has_no_credit_floor() -> None:
    uow = billing_uow(**{CLIENT: EMBEDDED.local_client_name})
    _reserve(uow, settings=EMBEDDED)
    assert _funds(uow) == -23_460
    # The same tenant name in production gets the usual floor.
    other = billing_uow(**{CLIENT: EMBEDDED.local_client_name})
    with pytest.raises(InsufficientFundsForJob):
        _reserve(other, settings=PRODUCTION)


def test_delivery_takes_the_fee_and_returns_the_rest() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    topup(uow, CLIENT, Money("KES", 100_000), "deposit-1")
    _reserve(uow)
    for n in range(15):
        _earn(uow, earn_answer_key(n), f"w{n % 3}", 1000)
    _earn(uow, earn_review_key(1), "r1", 200, TransactionKind.REVIEW_EARN)
    # A corrected earning: reversed, so not charged.
    uow.ledger.post(reversal_of(uow.ledger.entry(earn_answer_key(0))))
    charge = job_charge(uow, JOB, PRODUCTION)
    assert charge is not None
    assert charge.cost == Money("KES", 14 * 1000 + 200)
    assert charge.fee == Money("KES", 2130)  # 15 % of 142.00
    lines = {line.code: (line.count, line.amount.minor) for line in charge.cost_lines}
    assert lines == {"answers": (14, 14_000), "reviews": (1, 200)}
    funds_before = 100_000
    settle_at_delivery(uow, JOB, charge, PRODUCTION)
    assert uow.ledger.balance(job_reservation(JOB, "KES")) == 0
    assert uow.ledger.balance(platform_fees("KES")) == 2130
    # What the client gave up is exactly the charge.
    assert funds_before - _funds(uow) == charge.charged.minor
    assert uow.ledger.check().clean
    assert uow.ledger.entry(f"fee:job:{JOB}") is not None
    assert uow.ledger.entry(f"settle:job:{JOB}") is not None


def test_a_short_reservation_is_topped_up_from_the_funds() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    topup(uow, CLIENT, Money("KES", 100_000), "deposit-1")
    _reserve(uow)
    _earn(uow, earn_answer_key(1), "w1", 30_000)  # more than quoted
    charge = job_charge(uow, JOB, PRODUCTION)
    assert charge is not None and charge.amount_due.minor == 0
    settle_at_delivery(uow, JOB, charge, PRODUCTION)
    assert uow.ledger.balance(job_reservation(JOB, "KES")) == 0
    assert 100_000 - _funds(uow) == 30_000 + 4500 == charge.charged.minor
    assert uow.ledger.check().clean


def test_past_the_credit_limit_the_rest_is_due() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    topup(uow, CLIENT, Money("KES", 25_000), "deposit-1")
    _reserve(uow)  # leaves KES 15.40
    _earn(uow, earn_answer_key(1), "w1", 30_000)
    charge = job_charge(uow, JOB, PRODUCTION)
    assert charge is not None
    # Needed: 30 000 + 4 500 fee − 23 460 reserved = 11 040; the funds hold 1 540.
    assert charge.amount_due == Money("KES", 11_040 - 1540)
    settle_at_delivery(uow, JOB, charge, PRODUCTION)
    assert _funds(uow) == 0
    assert uow.ledger.balance(job_reservation(JOB, "KES")) == -9500
    assert uow.ledger.check().clean


def test_delivering_again_posts_only_the_difference() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    topup(uow, CLIENT, Money("KES", 100_000), "deposit-1")
    _reserve(uow)
    _earn(uow, earn_answer_key(1), "w1", 10_000)
    first = job_charge(uow, JOB, PRODUCTION)
    settle_at_delivery(uow, JOB, first, PRODUCTION)
    _earn(uow, earn_answer_key(2), "w2", 2_000)  # a late review overturned a rejection
    second = job_charge(uow, JOB, PRODUCTION)
    assert second is not None and second.deliveries == 1
    assert second.cost == Money("KES", 12_000) and second.fee == Money("KES", 1800)
    settle_at_delivery(uow, JOB, second, PRODUCTION)
    assert uow.ledger.entry(f"fee:job:{JOB}:2") is not None
    assert uow.ledger.balance(platform_fees("KES")) == 1800
    assert 100_000 - _funds(uow) == 13_800
    assert uow.ledger.balance(job_reservation(JOB, "KES")) == 0
    assert uow.ledger.check().clean


def test_a_cost_that_moved_after_the_invoice_is_refused() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    topup(uow, CLIENT, Money("KES", 100_000), "deposit-1")
    _reserve(uow)
    invoiced = job_charge(uow, JOB, PRODUCTION)
    _earn(uow, earn_answer_key(1), "w1", 1000)
    with pytest.raises(InvoiceOutdated):
        settle_at_delivery(uow, JOB, invoiced, PRODUCTION)
    assert uow.ledger.entry(f"fee:job:{JOB}") is None


def test_a_job_never_reserved_settles_nothing() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    assert job_charge(uow, JOB, PRODUCTION) is None
    assert settle_at_delivery(uow, JOB, None, PRODUCTION) is None
    assert uow.ledger.posted == []


def test_a_top_up_made_by_an_earning_is_funding_not_cost() -> None:
    uow = billing_uow(**{CLIENT: "acme"})
    topup(uow, CLIENT, Money("KES", 100_000), "deposit-1")
    _reserve(uow)
    # The earnings side tops a short reservation up itself before paying from it.
    uow.ledger.post(
        entry(f"reserve:job:{JOB}:for:earn:answer:9", TransactionKind.RESERVE,
              Transfer(client_funds(CLIENT, "KES"), job_reservation(JOB, "KES"), 5000))
    )  # fmt: skip
    _earn(uow, earn_answer_key(9), "w1", 28_000)
    charge = job_charge(uow, JOB, PRODUCTION)
    assert charge is not None
    assert charge.cost == Money("KES", 28_000)
    assert [line.code for line in charge.cost_lines] == ["answers"]
    settle_at_delivery(uow, JOB, charge, PRODUCTION)
    assert 100_000 - _funds(uow) == charge.charged.minor == 28_000 + 4200
    assert uow.ledger.balance(job_reservation(JOB, "KES")) == 0


def test_a_failed_job_pays_what_was_earned_and_returns_the_rest() -> None:
    from engine.billing.service import settle_failed_job

    uow = billing_uow(**{CLIENT: "acme"})
    topup(uow, CLIENT, Money("KES", 100_000), "deposit-1")
    _reserve(uow)
    _earn(uow, earn_answer_key(1), "w1", 2000)
    settle_failed_job(uow, JOB)
    assert uow.ledger.balance(job_reservation(JOB, "KES")) == 0
    assert 100_000 - _funds(uow) == 2000 + 300
    assert uow.ledger.entry(f"settle:job:{JOB}") is not None
    assert settle_failed_job(uow, "never-reserved") is None
