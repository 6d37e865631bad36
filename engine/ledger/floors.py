"""The floor an account gets when the ledger first creates it (stored on its row, enforced by a
CHECK). Client funds start at 0: a client without a credit limit cannot spend money it has not
deposited; a credit limit is ``set_floor(funds, -limit)``. The embedded demo tenant is the one
exception (floor None, see engine/earnings/service.py)."""

from __future__ import annotations

from collections.abc import Mapping

from engine.domain.ledger import AccountKind, AccountRef, floor_of


def initial_floor(
    account: AccountRef, floors: Mapping[AccountRef, int | None] | None = None
) -> int | None:
    if floors is not None and account in floors:
        return floors[account]
    if account.kind is AccountKind.CLIENT_FUNDS:
        return 0
    return floor_of(account)
