"""Errors the ledger's entrypoints answer with (engine.errors.KaziError subclasses)."""

from __future__ import annotations

from engine.errors import KaziError


class IdempotencyConflict(KaziError):
    """An entry's key was already posted with different transfers."""

    status = 409
    code = "idempotency_conflict"


class LedgerRefused(KaziError):
    """The ledger refuses the entry (unbalanced, wrong currency, bad amount)."""

    status = 422
    code = "ledger_refused"


class InsufficientFunds(KaziError):
    """The entry would take an account below its floor (a worker below 0, a client past its
    credit limit)."""

    status = 409
    code = "insufficient_funds"


class BadAmount(KaziError):
    """An amount or currency from a person (JSON, CLI) the money path cannot take."""

    status = 422
    code = "bad_amount"
