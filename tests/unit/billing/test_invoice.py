"""The invoice: its subtotal is the ledger's charge, taxes are added line by line, and the
HTML escapes what it shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from engine.billing.billing_settings import BillingSettings, TaxRate, parse_tax_rates
from engine.billing.invoice import (
    InvoiceParty,
    build_invoice,
    invoice_json,
    invoice_number,
    render_invoice_html,
)
from engine.billing.service import job_charge, job_reservation, reserve_for_job
from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    TransactionKind,
    Transfer,
    earn_answer_key,
    entry,
)
from engine.domain.money import Money
from engine.domain.pricing import MediaItem
from engine.ledger.service import topup
from engine.settings import Settings
from schemas.jobs import JobSpec
from tests.unit.billing.billing_fakes import billing_uow

SETTINGS = Settings(database_url="postgresql+psycopg://x@127.0.0.1/x", review_sample_rate=0.05)
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
PARTY = InvoiceParty("c1", "Acme <Ltd>", "job-1", "image_classification", NOW)


def _charged_job(earnings: list[int]):  # type: ignore[no-untyped-def]
    uow = billing_uow(c1="acme")
    topup(uow, "c1", Money("KES", 1_000_000), "d1")
    spec = JobSpec.model_validate(
        {"kind": "image_classification", "labels": ["a", "b"],
         "pay_rate": {"amount": "10.00", "currency": "KES"}}
    )  # fmt: skip
    reserve_for_job(
        uow, client_id="c1", job_id="job-1", spec=spec,
        media=(MediaItem("a.png"),), settings=SETTINGS,
    )  # fmt: skip
    for n, minor in enumerate(earnings):
        uow.ledger.post(
            entry(
                earn_answer_key(n), TransactionKind.EARN,
                Transfer(job_reservation("job-1", "KES"),
                         AccountRef(AccountKind.WORKER_PENDING, "w", "KES"), minor),
            )
        )  # fmt: skip
    charge = job_charge(uow, "job-1", SETTINGS)
    assert charge is not None
    return charge


def test_the_subtotal_is_the_ledger_charge_and_the_lines_add_up() -> None:
    charge = _charged_job([1000, 1000, 333])
    invoice = build_invoice(charge, PARTY, (), NOW)
    assert invoice.subtotal.minor == charge.charged.minor == 2333 + 350
    assert sum(line.amount.minor for line in invoice.lines) == invoice.subtotal.minor
    assert invoice.total == invoice.subtotal and invoice.taxes == []
    assert invoice.amount_due.minor == 0
    assert invoice.client == {"id": "c1", "name": "Acme <Ltd>"}
    assert invoice.job["id"] == "job-1" and invoice.currency == "KES"


def test_taxes_are_added_on_top_of_the_subtotal() -> None:
    charge = _charged_job([10_000])
    rates = (TaxRate("VAT", 1600), TaxRate("LEVY", 150))
    invoice = build_invoice(charge, PARTY, rates, NOW)
    subtotal = invoice.subtotal.minor
    assert subtotal == 11_500
    assert [t.amount.minor for t in invoice.taxes] == [1840, 173]  # 172.5 rounds half up
    assert invoice.total.minor == subtotal + 1840 + 173
    assert any("taxes" in note for note in invoice.notes)


def test_json_and_html_forms() -> None:
    invoice = build_invoice(_charged_job([500]), PARTY, (TaxRate("VAT", 1600),), NOW)
    data = json.loads(invoice_json(invoice))
    assert data["subtotal"] == {"currency": "KES", "minor": 575, "text": "KES 5.75"}
    assert isinstance(data["total"]["minor"], int)
    html = render_invoice_html(invoice)
    assert "Acme &lt;Ltd&gt;" in html and "Acme <Ltd>" not in html
    assert invoice.number in html and "VAT 16 %" in html


def test_invoice_numbers() -> None:
    assert invoice_number("3f2a9c1e-0000-4000-8000-000000000000", 0) == "KZ-3F2A9C1E0000"
    assert invoice_number("3f2a9c1e-0000-4000-8000-000000000000", 1).endswith("-2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", ()), ("VAT:1600", (TaxRate("VAT", 1600),)),
     (" VAT:1600 , LEVY:0 ", (TaxRate("VAT", 1600), TaxRate("LEVY", 0)))],
)  # fmt: skip
def test_tax_rates_parse(text: str, expected: tuple[TaxRate, ...]) -> None:
    assert parse_tax_rates(text) == expected


@pytest.mark.parametrize("text", ["VAT", "VAT:16.5", "VAT:-1", "VAT:10001", ":100", "V:1,V:2"])
def test_bad_tax_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_tax_rates(text)
    with pytest.raises(ValueError):
        BillingSettings(tax_rates=text)
