"""CSV export for providers with no API (a bank's bulk file, an e-wallet's upload), and the
reading of the provider's result file.

Export columns: ``payout_id, account_name, msisdn, amount, currency, remarks``. The result file
the provider (or staff) returns: ``payout_id, amount, currency, status, reference, detail``
with status ``paid``/``confirmed``/``success`` or ``failed``/``rejected``. Reading checks the
shape only; ``engine.payouts.result_import`` decides what each row may do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from engine.payouts.providers import PayoutOrder, ProviderAnswer, SendOutcome

EXPORT_COLUMNS = ("payout_id", "account_name", "msisdn", "amount", "currency", "remarks")
RESULT_COLUMNS = ("payout_id", "amount", "currency", "status", "reference", "detail")
CONFIRMED_WORDS = frozenset({"paid", "confirmed", "success", "successful", "completed"})
FAILED_WORDS = frozenset({"failed", "rejected", "returned", "error"})
MAX_RESULT_ROWS = 100_000


class CsvExport:
    """Collects the orders of one run; ``text()`` is the file to hand to the provider."""

    currencies: frozenset[str] | None = None  # whoever takes the file pays what it says

    def __init__(self, name: str) -> None:
        self.name = name
        self.orders: list[PayoutOrder] = []

    def send(self, order: PayoutOrder) -> ProviderAnswer:
        self.orders.append(order)
        return ProviderAnswer(SendOutcome.ACCEPTED, reference=order.payout_id, code="exported")

    def status(self, payout_id: str, reference: str | None) -> ProviderAnswer | None:
        return None

    def text(self) -> str:
        return export_text(self.orders)


def _cell(value: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula: quote it as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_text(orders: Iterable[PayoutOrder]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for o in orders:
        writer.writerow(
            [
                o.payout_id,
                _cell(o.account_name),
                o.msisdn,  # E.164 keeps its '+': the provider needs the number
                o.amount.major_text(),
                o.amount.currency,
                _cell(o.remarks),
            ]
        )
    return out.getvalue()


@dataclass(frozen=True)
class ResultRow:
    line: int
    payout_id: str
    amount: str
    currency: str
    confirmed: bool | None  # None: a status word the engine does not know
    status_word: str
    reference: str
    detail: str


class ResultFileError(ValueError):
    pass


def read_result_file(text: str) -> list[ResultRow]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in ("payout_id", "amount", "currency", "status") if c not in header]
    if missing:
        raise ResultFileError(f"the result file lacks the column(s) {', '.join(missing)}")
    reader.fieldnames = header
    rows: list[ResultRow] = []
    for number, raw in enumerate(reader, start=2):
        if len(rows) >= MAX_RESULT_ROWS:
            raise ResultFileError(f"more than {MAX_RESULT_ROWS} rows")
        cells = {k: (v or "").strip() for k, v in raw.items() if isinstance(k, str)}
        word = cells.get("status", "").lower()
        confirmed = True if word in CONFIRMED_WORDS else False if word in FAILED_WORDS else None
        rows.append(
            ResultRow(
                line=number,
                payout_id=cells.get("payout_id", ""),
                amount=cells.get("amount", ""),
                currency=cells.get("currency", "").upper(),
                confirmed=confirmed,
                status_word=word,
                reference=cells.get("reference", "")[:100],
                detail=cells.get("detail", "")[:500],
            )
        )
    return rows
