"""``kazi payouts import-results FILE``: apply a provider's result file, row by row.

A row settles its payout exactly once (``service.apply_result``). A row that names no known
payout, another amount or currency than the payout's, or a status the engine does not know is
refused: reported, recorded in ``payout_callbacks``, never applied. A second import of the
same file changes nothing (every row is a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.db.payout_models import PayoutCallbackRow
from engine.domain.money import Money, MoneyError, check_currency, parse_amount
from engine.payouts.providers import SendOutcome
from engine.payouts.providers.csv_export import ResultRow, read_result_file
from engine.payouts.service import ProviderResult, ResultOutcome, apply_result
from engine.unit_of_work import UnitOfWork

CHANNEL = "result_file"


@dataclass
class ImportReport:
    applied: int = 0
    duplicates: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.refused

    def as_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "refused": self.refused,
            "clean": self.clean,
        }


def _refuse(uow: UnitOfWork, report: ImportReport, row: ResultRow, reason: str) -> None:
    known = uow.payouts.payout(row.payout_id) if row.payout_id else None
    uow.payouts.record_result(
        PayoutCallbackRow(
            channel=CHANNEL,
            reference=row.payout_id[:200] or None,
            payout_id=known.id if known is not None else None,
            outcome=ResultOutcome.REFUSED.value if known else ResultOutcome.UNKNOWN_REFERENCE.value,
            detail=reason,
            body=_row_body(row),
        )
    )
    report.refused.append({"line": row.line, "payout_id": row.payout_id, "reason": reason})


def _row_body(row: ResultRow) -> dict[str, Any]:
    return {
        "payout_id": row.payout_id,
        "amount": row.amount,
        "currency": row.currency,
        "status": row.status_word,
        "reference": row.reference,
    }


def import_results(uow: UnitOfWork, text: str) -> ImportReport:
    report = ImportReport()
    for row in read_result_file(text):
        payout = uow.payouts.payout(row.payout_id) if row.payout_id else None
        if payout is None:
            _refuse(uow, report, row, "no payout has this payout_id")
            continue
        if row.confirmed is None:
            _refuse(uow, report, row, f"status {row.status_word!r} is not paid or failed")
            continue
        try:
            amount = parse_amount(row.amount, check_currency(row.currency))
        except MoneyError as error:
            _refuse(uow, report, row, f"amount or currency unreadable: {error}")
            continue
        if amount != Money(payout.currency, payout.net_minor):
            _refuse(
                uow,
                report,
                row,
                f"amount {amount.format()} is not the payout's "
                f"{Money(payout.currency, payout.net_minor).format()}: not applied",
            )
            continue
        result = apply_result(
            uow,
            ProviderResult(
                channel=CHANNEL,
                payout_id=payout.id,
                status=SendOutcome.CONFIRMED if row.confirmed else SendOutcome.FAILED,
                amount=amount,
                reference=row.reference or None,
                transaction_id=row.reference or None,
                code=row.status_word,
                detail=row.detail or None,
                body=_row_body(row),
            ),
        )
        if result.outcome is ResultOutcome.APPLIED:
            report.applied += 1
        elif result.outcome is ResultOutcome.DUPLICATE:
            report.duplicates += 1
        else:
            report.refused.append(
                {"line": row.line, "payout_id": row.payout_id, "reason": result.detail}
            )
    return report
