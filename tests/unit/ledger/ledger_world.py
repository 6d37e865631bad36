"""A small pay world driven by random operations (earn, reject, dispute, overturn, uphold,
release, payout, fail, confirm, reverse, repost) against any LedgerRepository-like object: the
fake (unit tests) or the real one on PostgreSQL (integration). ``assert_invariants`` holds the
ledger's promises: every transaction balances, no floor is broken, a worker's entries add up
to their balances, each key is posted once, and the ledger's own check is clean."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import strategies as st

from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    JournalEntry,
    TransactionKind,
    Transfer,
    balance_change,
    cash,
    earn_answer_key,
    entry,
    payout_key,
    payout_result_key,
    release_hold_key,
    reversal_of,
    topup_key,
)
from engine.ledger.errors import IdempotencyConflict
from engine.ledger.repository import BelowFloor

CURRENCY = "KES"
OPERATIONS = ("topup", "earn", "reject", "dispute", "overturn", "uphold", "release", "payout",
              "fail", "confirm", "reverse", "repost")  # fmt: skip


@dataclass(frozen=True)
class Op:
    name: str
    worker: int
    amount: int
    target: int


ops = st.lists(
    st.builds(
        Op,
        st.sampled_from(OPERATIONS),
        st.integers(0, 2),
        st.integers(1, 50_000),
        st.integers(0, 40),
    ),
    max_size=40,
)


@dataclass
class PayWorld:
    ledger: Any
    prefix: str
    posted: list[JournalEntry] = field(default_factory=list)
    earned: dict[int, str] = field(default_factory=dict)  # answer id -> worker
    rejected: dict[int, str] = field(default_factory=dict)
    disputes: dict[int, str] = field(default_factory=dict)  # answer id -> open | decided
    released: set[int] = field(default_factory=set)
    payouts: dict[str, str] = field(default_factory=dict)  # payout id -> worker
    ended: set[str] = field(default_factory=set)
    reversed_: set[str] = field(default_factory=set)
    topups: dict[int, int] = field(default_factory=dict)  # reference -> amount
    next_answer: int = 1
    batches: int = 0

    def acct(self, kind: AccountKind, owner: str) -> AccountRef:
        return AccountRef(kind, f"{self.prefix}{owner}", CURRENCY)

    def worker(self, i: int) -> str:
        return f"w{i}"

    @property
    def funds(self) -> AccountRef:
        return self.acct(AccountKind.CLIENT_FUNDS, "client")

    @property
    def reserved(self) -> AccountRef:
        return self.acct(AccountKind.CLIENT_RESERVED, "job")

    def post(self, e: JournalEntry) -> bool:
        before = {ref: self.ledger.balance(ref) for ref in e.accounts()}
        try:
            posted = bool(self.ledger.post(e))
        except BelowFloor:
            assert {ref: self.ledger.balance(ref) for ref in e.accounts()} == before
            assert self.ledger.entry(e.idempotency_key) is None
            return False
        if posted:
            self.posted.append(e)
        return posted

    def _earn(self, answer: int, worker: str, amount: int) -> bool:
        short = amount - self.ledger.balance(self.reserved)
        if short > 0:
            self.post(entry(f"reserve:{self.prefix}{answer}", TransactionKind.RESERVE,
                            Transfer(self.funds, self.reserved, short)))  # fmt: skip
        key = earn_answer_key(answer) + f":{self.prefix}"
        pending = self.acct(AccountKind.WORKER_PENDING, worker)
        return self.post(entry(key, TransactionKind.EARN, Transfer(self.reserved, pending, amount)))

    def run(self, op: Op) -> None:
        worker = self.worker(op.worker)
        getattr(self, f"op_{op.name}")(op, worker)

    def op_topup(self, op: Op, worker: str) -> None:
        # A reference reused with another amount is a conflict, and changes nothing.
        e = entry(topup_key(f"{self.prefix}client", f"ref{op.target}"), TransactionKind.TOPUP,
                  Transfer(cash(CURRENCY), self.funds, op.amount))  # fmt: skip
        earlier = self.topups.get(op.target)
        if earlier is None:
            assert self.post(e)
            self.topups[op.target] = op.amount
        elif earlier == op.amount:
            assert self.ledger.post(e) is False
        else:
            before = self.ledger.balance(self.funds)
            with pytest.raises(IdempotencyConflict):
                self.ledger.post(e)
            assert self.ledger.balance(self.funds) == before

    def op_earn(self, op: Op, worker: str) -> None:
        answer, self.next_answer = self.next_answer, self.next_answer + 1
        if self._earn(answer, worker, op.amount):
            self.earned[answer] = worker

    def op_reject(self, op: Op, worker: str) -> None:
        answer, self.next_answer = self.next_answer, self.next_answer + 1
        self.rejected[answer] = worker

    def _pick(self, items: list[Any], op: Op) -> Any:
        return items[op.target % len(items)] if items else None

    def op_dispute(self, op: Op, worker: str) -> None:
        answer = self._pick(sorted(a for a in self.rejected if a not in self.disputes), op)
        if answer is not None:
            self.disputes[answer] = "open"

    def op_overturn(self, op: Op, worker: str) -> None:
        answer = self._pick(sorted(a for a, s in self.disputes.items() if s == "open"), op)
        if answer is not None:
            self.disputes[answer] = "decided"
            if self._earn(answer, self.rejected[answer], op.amount):
                self.earned[answer] = self.rejected.pop(answer)

    def op_uphold(self, op: Op, worker: str) -> None:
        answer = self._pick(sorted(a for a, s in self.disputes.items() if s == "open"), op)
        if answer is not None:
            self.disputes[answer] = "decided"

    def op_release(self, op: Op, worker: str) -> None:
        due = sorted(a for a in self.earned if a not in self.released
                     and self.disputes.get(a) != "open")  # fmt: skip
        answer = self._pick(due, op)
        if answer is None:
            return
        key = earn_answer_key(answer) + f":{self.prefix}"
        if key in self.reversed_:
            return
        earn = self.ledger.entry(key)
        (t,) = earn.transfers
        available = self.acct(AccountKind.WORKER_AVAILABLE, self.earned[answer])
        if self.post(entry(release_hold_key(key), TransactionKind.RELEASE_HOLD,
                           Transfer(t.credit, available, t.amount))):  # fmt: skip
            self.released.add(answer)

    def op_payout(self, op: Op, worker: str) -> None:
        available = self.acct(AccountKind.WORKER_AVAILABLE, worker)
        amount = self.ledger.balance(available)
        if amount <= 0:
            return
        benefits = amount * 500 // 10_000
        transfers = [Transfer(available, self.acct(AccountKind.PROVIDER_IN_TRANSIT, "mpesa"),
                              amount - benefits)]  # fmt: skip
        if benefits:
            transfers.append(Transfer(available, self.acct(AccountKind.WORKER_BENEFITS, worker),
                                      benefits))  # fmt: skip
        self.batches += 1  # each run is a new batch (a batch pays a worker once)
        key = payout_key(f"{self.prefix}b{self.batches}", worker)
        if self.post(entry(key, TransactionKind.PAYOUT, *transfers)):
            self.payouts[key] = worker

    def _end(self, op: Op, failed: bool) -> None:
        payout = self._pick(sorted(p for p in self.payouts if p not in self.ended), op)
        if payout is None:
            return
        net = self.ledger.entry(payout).transfers[0]
        back = (Transfer(net.credit, net.debit, net.amount) if failed
                else Transfer(net.credit, cash(CURRENCY), net.amount))  # fmt: skip
        kind = TransactionKind.PAYOUT_FAILED if failed else TransactionKind.PAYOUT_CONFIRMED
        if self.post(entry(payout_result_key(payout), kind, back)):
            self.ended.add(payout)

    def op_fail(self, op: Op, worker: str) -> None:
        self._end(op, failed=True)

    def op_confirm(self, op: Op, worker: str) -> None:
        self._end(op, failed=False)

    def op_reverse(self, op: Op, worker: str) -> None:
        candidates = [e for e in self.posted if e.kind is not TransactionKind.REVERSAL
                      and e.idempotency_key not in self.reversed_]  # fmt: skip
        original = self._pick(candidates, op)
        if original is not None and self.post(reversal_of(original)):
            self.reversed_.add(original.idempotency_key)

    def op_repost(self, op: Op, worker: str) -> None:
        original = self._pick(self.posted, op)
        if original is not None:
            assert self.ledger.post(original) is False

    # -- the promises --------------------------------------------------------------------
    def assert_invariants(self) -> None:
        keys = Counter(e.idempotency_key for e in self.posted)
        assert all(n == 1 for n in keys.values()), keys.most_common(3)
        net = 0  # credit-normal balances minus debit-normal ones: 0 when every entry balances
        touched: set[AccountRef] = set()
        for e in self.posted:
            for ref, delta in balance_change(e).items():
                net += -delta if ref.debit_normal else delta
                touched.add(ref)
        assert net == 0
        for ref in touched:
            state = self.ledger.account(ref)
            assert state is not None
            assert state.floor is None or state.balance >= state.floor, ref
        for i in range(3):
            owner = f"{self.prefix}{self.worker(i)}"
            from_entries: dict[AccountRef, int] = {}
            for posted in self.ledger.entries_for(owner):
                for ref, delta in balance_change(posted.entry).items():
                    if ref.owner == owner:
                        from_entries[ref] = from_entries.get(ref, 0) + delta
            balances = self.ledger.balances_of(owner)
            assert {r: b for r, b in from_entries.items()} == {
                r: b for r, b in balances.items() if r in from_entries or b != 0
            }
            assert all(b >= 0 for b in balances.values())
        report = self.ledger.check()
        assert report.clean, report.differences
