"""Ledger use cases: post an entry (ledger refusals become KaziErrors), top up a client, check
the whole ledger against its journal."""

from __future__ import annotations

from collections.abc import Mapping

from engine.domain.ledger import (
    AccountRef,
    JournalEntry,
    LedgerError,
    TransactionKind,
    Transfer,
    cash,
    client_funds,
    entry,
    topup_key,
)
from engine.domain.money import Money, MoneyError, parse_amount
from engine.ledger.errors import BadAmount, InsufficientFunds, LedgerRefused
from engine.ledger.repository import BelowFloor, CheckReport
from engine.unit_of_work import UnitOfWork


def post(
    uow: UnitOfWork, entry_: JournalEntry, floors: Mapping[AccountRef, int | None] | None = None
) -> bool:
    """Post once under the entry's key (True: written now; False: already posted alike).
    Raises InsufficientFunds (409) below a floor, IdempotencyConflict (409) on a reused key
    with other transfers, LedgerRefused (422) for anything else the ledger refuses."""
    try:
        return uow.ledger.post(entry_, floors)
    except BelowFloor as error:
        raise InsufficientFunds(str(error)) from None
    except LedgerError as error:
        raise LedgerRefused(str(error)) from None


def post_many(
    uow: UnitOfWork, entries: list[JournalEntry], *, skip_below_floor: bool = False
) -> list[bool]:
    """``post`` for many entries with one balance update per account (see the repository)."""
    try:
        return uow.ledger.post_many(entries, skip_below_floor=skip_below_floor)
    except BelowFloor as error:
        raise InsufficientFunds(str(error)) from None
    except LedgerError as error:
        raise LedgerRefused(str(error)) from None


def money_from_text(amount: str | int, currency: str) -> Money:
    """A person's amount ("100.00", "KES") → Money, or BadAmount (422): more decimals than the
    currency has, a negative amount, an unknown currency."""
    try:
        money = parse_amount(amount, currency)
    except MoneyError as error:
        raise BadAmount(str(error)) from None
    if money.is_negative():
        raise BadAmount(f"{amount} is negative")
    return money


def topup(uow: UnitOfWork, client_id: str, amount: Money, reference: str) -> bool:
    """A client deposit: cash → client funds, once per (client, reference)."""
    check_topup(amount, reference)
    return post(
        uow,
        entry(
            topup_key(client_id, reference),
            TransactionKind.TOPUP,
            Transfer(cash(amount.currency), client_funds(client_id, amount.currency), amount.minor),
            memo=f"top-up {reference}",
            cause={"client_id": client_id, "reference": reference},
        ),
    )


def check_topup(amount: Money, reference: str) -> None:
    if amount.minor <= 0:
        raise BadAmount("a top-up moves a positive amount")
    if not reference or len(reference) > 100:
        raise BadAmount("a top-up needs a reference of 1-100 characters")


def check(uow: UnitOfWork) -> CheckReport:
    return uow.ledger.check()
