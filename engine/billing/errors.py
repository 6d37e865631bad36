"""Errors the billing use cases raise (engine.errors.KaziError subclasses)."""

from __future__ import annotations

from engine.domain.money import Money
from engine.errors import KaziError


class QuoteRefused(KaziError):
    """A job that cannot be priced: no pay rate, a rate unit its kind does not use, a file
    described the wrong way."""

    status = 422
    code = "quote_refused"


class InsufficientFundsForJob(KaziError):
    """The client's prepaid balance plus credit limit does not cover the job's quote."""

    status = 402
    code = "insufficient_funds"

    def __init__(self, quote_total: Money, available: Money) -> None:
        self.quote_total = quote_total
        self.available = available
        self.shortfall = quote_total - available
        super().__init__(
            f"insufficient funds: this job is quoted at {quote_total.format()} and "
            f"{available.format()} is available (prepaid balance plus credit limit); short by "
            f"{self.shortfall.format()}. Top up, or ask for a credit limit; POST "
            "/v1/jobs/quote shows the quote's lines and assumptions"
        )


class InvoiceOutdated(KaziError):
    """The job's cost moved between building its invoice and settling it (an earning posted
    meanwhile): assembling again builds a fresh one."""

    status = 409
    code = "invoice_outdated"
