"""What assembly calls: the invoice files (built in assembly's read step, with no object-store
write inside a transaction), the cost figures of the quality report, and the settlement that
commits with the job's move to delivered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from engine.billing.billing_settings import BillingSettings
from engine.billing.invoice import (
    INVOICE_HTML,
    INVOICE_JSON,
    InvoiceParty,
    build_invoice,
    invoice_json,
    render_invoice_html,
)
from engine.billing.service import JobCharge, job_charge, settle_at_delivery
from engine.db.models import JobRow, SourceMediaRow
from engine.domain.money import Money
from engine.domain.pricing import MS_PER_MINUTE
from engine.settings import get_settings
from engine.unit_of_work import UnitOfWork
from schemas.billing import MoneyView

Files = dict[str, tuple[bytes, str]]


def invoice_files(uow: UnitOfWork, job: JobRow) -> tuple[Files, JobCharge] | None:
    """invoice.json and invoice.html for a paid job (None for a job without a pay rate)."""
    charge = job_charge(uow, job.id, get_settings())
    if charge is None:
        return None
    client = uow.clients.get(job.client_id)
    party = InvoiceParty(
        client_id=job.client_id,
        client_name=client.name if client is not None else job.client_id,
        job_id=job.id,
        job_kind=job.kind,
        job_created_at=job.created_at,
    )
    invoice = build_invoice(charge, party, BillingSettings().taxes(), datetime.now(UTC))
    files = {
        INVOICE_JSON: (invoice_json(invoice), "application/json"),
        INVOICE_HTML: (render_invoice_html(invoice).encode(), "text/html; charset=utf-8"),
    }
    return files, charge


def cost_figures(
    charge: JobCharge, sources: Sequence[SourceMediaRow], items: int
) -> dict[str, Any]:
    """The quality report's cost block: the charge per audio minute (of the recordings
    delivered, gold left out) and per item (task)."""
    charged = charge.charged
    audio_ms = sum(
        round((s.duration_seconds or 0) * 1000) for s in sources if s.media_type == "audio"
    )
    block: dict[str, Any] = {
        "currency": charge.currency,
        "charged": MoneyView.of(charged).model_dump(),
        "workers_paid": MoneyView.of(charge.cost).model_dump(),
        "items": items,
        "audio_ms": audio_ms,
        "per_item": None,
        "per_audio_minute": None,
    }
    if items > 0:
        block["per_item"] = MoneyView.of(charged.share(1, items)).model_dump()
    if audio_ms > 0:
        per_minute = Money(charge.currency, charged.minor).share(MS_PER_MINUTE, audio_ms)
        block["per_audio_minute"] = MoneyView.of(per_minute).model_dump()
    return block


def settle_delivery(uow: UnitOfWork, job_id: str, invoiced: JobCharge | None) -> None:
    """Post the fee and settle the reservation, in the delivery transaction."""
    settle_at_delivery(uow, job_id, invoiced, get_settings())
