"""Hypothesis: random sequences of earn / dispute / overturn / release / payout / fail /
confirm / reverse / repost keep the ledger's promises, on the pure rules and on the fake
repository (the same world runs on PostgreSQL in tests/integration/ledger/)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    LedgerError,
    TransactionKind,
    Transfer,
    apply_entry,
    entry,
    floor_of,
    reversal_of,
)
from tests.unit.ledger.fake_ledger import FakeLedgerRepository
from tests.unit.ledger.ledger_world import Op, PayWorld, ops

ACCOUNTS = [
    AccountRef(kind, owner, "KES")
    for kind in (AccountKind.CLIENT_RESERVED, AccountKind.WORKER_PENDING, AccountKind.CASH,
                 AccountKind.WORKER_AVAILABLE)
    for owner in ("a", "b")
]  # fmt: skip


def _nonzero(balances: dict[AccountRef, int]) -> dict[AccountRef, int]:
    return {r: b for r, b in balances.items() if b}


def _transfer(debit: AccountRef, credit: AccountRef, amount: int) -> Transfer | None:
    return None if debit == credit else Transfer(debit, credit, amount)


pairs = st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS), st.integers(1, 10**6))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(pairs, min_size=1, max_size=4), max_size=25))
def test_pure_entries_balance_respect_floors_and_reverse_exactly(batches) -> None:  # type: ignore[no-untyped-def]
    balances: dict[AccountRef, int] = {}
    history = []
    for i, batch in enumerate(batches):
        moves = [t for t in (_transfer(*p) for p in batch) if t is not None]
        if not moves:
            continue
        e = entry(f"e{i}", TransactionKind.EARN, *moves)
        try:
            after = apply_entry(balances, e)
        except LedgerError:
            continue
        assert sum(-b if r.debit_normal else b for r, b in after.items()) == 0
        assert all(b >= f for r, b in after.items() if (f := floor_of(r)) is not None)
        balances = after
        history.append((e, _nonzero(after)))
    # Undoing in reverse order walks back through every state to zero.
    for e, state in reversed(history):
        assert _nonzero(balances) == state
        # Floors lifted: the walk back checks the arithmetic, not overdrafts.
        balances = apply_entry(balances, reversal_of(e), floors=dict.fromkeys(ACCOUNTS, -(10**12)))
    assert all(b == 0 for b in balances.values())


@settings(max_examples=120, deadline=None)
@given(ops)
def test_random_pay_sequences_on_the_fake_keep_every_promise(sequence: list[Op]) -> None:
    world = PayWorld(FakeLedgerRepository(), "t-")
    for op in sequence:
        world.run(op)
        world.assert_invariants()


def test_the_world_reaches_every_kind_of_entry() -> None:
    # The random runs above are only worth something if the world can post all of these.
    world = PayWorld(FakeLedgerRepository(), "t-")
    script = ["topup", "earn", "release", "payout", "fail", "payout", "confirm", "reject",
              "dispute", "overturn", "reverse"]  # fmt: skip
    for name in script:
        # The last entry (the overturned earning, still pending) is the one to reverse.
        world.run(Op(name, worker=0, amount=10_000, target=-1 if name == "reverse" else 0))
        world.assert_invariants()
    kinds = {e.kind for e in world.posted}
    assert kinds >= {
        TransactionKind.TOPUP, TransactionKind.EARN, TransactionKind.RELEASE_HOLD,
        TransactionKind.PAYOUT, TransactionKind.PAYOUT_FAILED, TransactionKind.PAYOUT_CONFIRMED,
        TransactionKind.REVERSAL,
    }  # fmt: skip
    assert world.earned and not world.rejected  # the overturned answer earned
    assert world.reversed_ == {world.posted[-2].idempotency_key}
    benefits = world.ledger.balance(world.acct(AccountKind.WORKER_BENEFITS, "w0"))
    # 5 % of the first payout (10 000), then of the second: the failed net 9 500 came back.
    assert benefits == 500 + 475
