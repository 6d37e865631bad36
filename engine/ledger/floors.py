"""The floor an account gets when the ledger first creates it (stored on its row, enforced by a
CHECK). Client funds start at 0: a client without a credit limit cannot spend money it has not
deposited; a credit limit is ``set_floor(funds, -limit)``. The embedded demo tenant is the one
exception (floor None, see engine/earnings/service.py)."""

from __future__ import annotations

from engine.domain.ledger import AccountKind, AccountRef, floor_of


def initial_floor(account: AccountRef) -> int | None:
    if account.kind is AccountKind.CLIENT_FUNDS:
        return 0
    return floor_of(account)
