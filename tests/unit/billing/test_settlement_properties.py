"""Whatever the job earned (answers, reviews, reversals, earnings that topped the reservation
up themselves), delivery leaves the ledger whole: every entry balances, the reservation ends
at zero unless the client ran out, and the client's funds gave up exactly the charge."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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
    entry,
    reversal_of,
)
from engine.domain.money import Money
from engine.domain.pricing import MediaItem
from engine.ledger.service import topup
from engine.settings import Settings
from schemas.jobs import JobSpec
from tests.unit.billing.billing_fakes import billing_uow

SETTINGS = Settings(database_url="postgresql+psycopg://x@127.0.0.1/x", review_sample_rate=0.05)
SPEC = JobSpec.model_validate(
    {"kind": "image_classification", "labels": ["a", "b"],
     "pay_rate": {"amount": "5.00", "currency": "KES"}}
)  # fmt: skip
KINDS = [TransactionKind.EARN, TransactionKind.REVIEW_EARN, TransactionKind.TRAINING_EARN]

events = st.lists(
    st.tuples(
        st.sampled_from(["earn", "reverse", "self-topup"]),
        st.integers(1, 50_000),
        st.sampled_from(KINDS),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(deposit=st.integers(0, 200_000), credit=st.integers(0, 50_000), history=events)
def test_delivery_leaves_the_ledger_whole(deposit: int, credit: int, history) -> None:  # type: ignore[no-untyped-def]
    uow = billing_uow(c="acme")
    funds = client_funds("c", "KES")
    if deposit:
        topup(uow, "c", Money("KES", deposit), "d")
    uow.ledger.set_floor(funds, -credit)
    try:
        quote = reserve_for_job(
            uow, client_id="c", job_id="j", spec=SPEC, media=(MediaItem("a.png"),) * 3,
            settings=SETTINGS,
        )  # fmt: skip
    except Exception as error:  # the 402: nothing posted, nothing else to check
        assert getattr(error, "status", None) == 402
        assert uow.ledger.balance(job_reservation("j", "KES")) == 0
        return
    assert quote is not None
    start = uow.ledger.balance(funds)
    reservation = job_reservation("j", "KES")
    earned: list[str] = []
    for n, (what, amount, kind) in enumerate(history):
        if what == "earn":
            worker = AccountRef(AccountKind.WORKER_PENDING, f"w{n % 4}", "KES")
            key = f"earn:answer:{n}"
            uow.ledger.post(entry(key, kind, Transfer(reservation, worker, amount)))
            earned.append(key)
        elif what == "reverse" and earned:
            original = uow.ledger.entry(earned.pop(0))
            assert original is not None
            uow.ledger.post(reversal_of(original))
        elif what == "self-topup":
            available = uow.ledger.balance(funds) + credit
            if available >= amount:
                uow.ledger.post(
                    entry(f"reserve:job:j:for:{n}", TransactionKind.RESERVE,
                          Transfer(funds, reservation, amount))
                )  # fmt: skip
    charge = job_charge(uow, "j", SETTINGS)
    assert charge is not None
    assert charge.cost.minor == sum(line.amount.minor for line in charge.cost_lines)
    settle_at_delivery(uow, "j", charge, SETTINGS)
    report = uow.ledger.check()
    assert report.clean, report.differences
    left = uow.ledger.balance(reservation)
    assert left == -charge.amount_due.minor
    assert uow.ledger.balance(funds) >= -credit
    # Over the job's life the funds gave up the charge, less what is still due.
    before = start + quote.total.minor
    assert before - uow.ledger.balance(funds) == charge.charged.minor - charge.amount_due.minor
