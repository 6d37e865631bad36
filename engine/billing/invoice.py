"""A delivered job's invoice, as JSON and HTML, built from the ledger's charge for the job.

The subtotal is what the ledger charges the job (workers' pay out of the reservation plus the
platform fee), so the invoice always equals the ledger. Taxes (``KAZI_TAX_RATES``) are added on
top of the subtotal, one line each, rounded half up; they are invoiced, not taken from the
prepaid balance (the ledger has no tax account).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from html import escape

from engine.billing.billing_settings import TaxRate
from engine.billing.service import JobCharge
from engine.domain.money import Money
from engine.domain.pricing import BPS
from schemas.billing import InvoiceLineView, InvoiceView, MoneyView, TaxLineView

INVOICE_JSON = "invoice.json"
INVOICE_HTML = "invoice.html"


@dataclass(frozen=True, slots=True)
class InvoiceParty:
    client_id: str
    client_name: str
    job_id: str
    job_kind: str
    job_created_at: datetime


def invoice_number(job_id: str, deliveries: int) -> str:
    base = f"KZ-{job_id.replace('-', '')[:12].upper()}"
    return base if deliveries == 0 else f"{base}-{deliveries + 1}"


def _percent(bps: int) -> str:
    whole, rest = divmod(bps, 100)
    return f"{whole}.{rest:02d} %" if rest else f"{whole} %"


def build_invoice(
    charge: JobCharge, party: InvoiceParty, taxes: tuple[TaxRate, ...], issued_at: datetime
) -> InvoiceView:
    lines = [
        InvoiceLineView(
            code=line.code,
            description=line.description,
            quantity=line.count,
            amount=MoneyView.of(line.amount),
        )
        for line in charge.cost_lines
    ]
    lines.append(
        InvoiceLineView(
            code="platform_fee",
            description=f"platform fee, {_percent(charge.fee_bps)} of {charge.cost.format()}",
            quantity=charge.fee_bps,
            amount=MoneyView.of(charge.fee),
        )
    )
    subtotal = charge.charged
    tax_lines = [
        TaxLineView(name=t.name, rate_bps=t.bps, amount=MoneyView.of(subtotal.share(t.bps, BPS)))
        for t in taxes
    ]
    total = subtotal
    for tax in tax_lines:
        total = total + Money(charge.currency, tax.amount.minor)
    due = charge.amount_due
    notes = [
        f"quoted at intake: {charge.quoted.format()}; reserved from the prepaid balance then, "
        "the difference returned (or taken) at delivery",
    ]
    if tax_lines:
        notes.append("taxes are payable on this invoice; they are not taken from the balance")
    if due.minor:
        notes.append(f"{due.format()} exceeds the balance and credit limit and is due")
    if charge.deliveries:
        notes.append(f"delivered again (delivery {charge.deliveries + 1}): the charge is the "
                     "whole job's, earlier invoices included")  # fmt: skip
    return InvoiceView(
        number=invoice_number(charge.job_id, charge.deliveries),
        issued_at=issued_at.isoformat(),
        currency=charge.currency,
        client={"id": party.client_id, "name": party.client_name},
        job={
            "id": party.job_id,
            "kind": party.job_kind,
            "submitted_at": party.job_created_at.isoformat(),
            "delivered_at": issued_at.isoformat(),
        },
        lines=lines,
        subtotal=MoneyView.of(subtotal),
        taxes=tax_lines,
        total=MoneyView.of(total),
        quoted=MoneyView.of(charge.quoted),
        paid_from_balance=MoneyView.of(subtotal - due),
        amount_due=MoneyView.of(due),
        notes=notes,
    )


def invoice_json(invoice: InvoiceView) -> bytes:
    return json.dumps(invoice.model_dump(mode="json"), indent=2, ensure_ascii=False).encode()


def render_invoice_html(invoice: InvoiceView) -> str:
    rows = "".join(
        f"<tr><td>{escape(line.description)}</td><td class=n>{line.quantity}</td>"
        f"<td class=n>{escape(line.amount.text)}</td></tr>"
        for line in invoice.lines
    )
    taxes = "".join(
        f"<tr><td>{escape(t.name)} {_percent(t.rate_bps)}</td><td></td>"
        f"<td class=n>{escape(t.amount.text)}</td></tr>"
        for t in invoice.taxes
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in invoice.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice {escape(invoice.number)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;color:#222}}
table{{border-collapse:collapse;width:100%}}
td,th{{padding:.35rem .5rem;border-bottom:1px solid #ddd;text-align:left}}
.n{{text-align:right}}tfoot td{{font-weight:600}}</style></head><body>
<h1>Invoice {escape(invoice.number)}</h1>
<p>Issued {escape(invoice.issued_at)} · currency {escape(invoice.currency)}</p>
<p>Client: {escape(invoice.client["name"])} ({escape(invoice.client["id"])})<br>
Job: {escape(invoice.job["id"])} ({escape(invoice.job["kind"])}), submitted
{escape(invoice.job["submitted_at"])}, delivered {escape(invoice.job["delivered_at"])}</p>
<table><thead><tr><th>item</th><th class=n>quantity</th><th class=n>amount</th></tr></thead>
<tbody>{rows}</tbody>
<tfoot><tr><td>subtotal</td><td></td><td class=n>{escape(invoice.subtotal.text)}</td></tr>
{taxes}<tr><td>total</td><td></td><td class=n>{escape(invoice.total.text)}</td></tr>
<tr><td>paid from the prepaid balance</td><td></td>
<td class=n>{escape(invoice.paid_from_balance.text)}</td></tr>
<tr><td>amount due</td><td></td><td class=n>{escape(invoice.amount_due.text)}</td></tr></tfoot>
</table><ul>{notes}</ul></body></html>
"""
