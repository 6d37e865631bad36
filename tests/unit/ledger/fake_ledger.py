"""An in-memory LedgerRepository with the real one's semantics: one post per idempotency key
(same content → False, other content → IdempotencyConflict), stored floors (client funds start
at 0, worker and provider accounts at 0), a refused post leaves nothing behind, a check that
recomputes balances from the journal. ``FakeUnitOfWork`` has one as ``uow.ledger``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from engine.domain.ledger import AccountRef, JournalEntry, balance_change
from engine.ledger.errors import IdempotencyConflict
from engine.ledger.floors import initial_floor
from engine.ledger.repository import AccountState, BelowFloor, CheckReport, PostedEntry


class FakeLedgerRepository:
    def __init__(self, now: datetime | None = None) -> None:
        self.posted: list[PostedEntry] = []
        self.by_key: dict[str, PostedEntry] = {}
        self.balances: dict[AccountRef, int] = {}
        self.floors: dict[AccountRef, int | None] = {}
        self.now = now  # a fixed posting time, when a test needs one

    def _ensure(self, ref: AccountRef) -> None:
        if ref not in self.balances:
            self.balances[ref] = 0
            self.floors[ref] = initial_floor(ref)

    def post(
        self, entry: JournalEntry, floors: Mapping[AccountRef, int | None] | None = None
    ) -> bool:
        for ref in sorted(entry.accounts()):
            self._ensure(ref)
        existing = self.by_key.get(entry.idempotency_key)
        if existing is not None:
            if not existing.entry.same_content(entry):
                raise IdempotencyConflict(
                    f"{entry.idempotency_key} was already posted with different transfers"
                )
            return False
        new_floors = dict(self.floors)
        for ref, floor in (floors or {}).items():
            if ref in entry.accounts():
                if floor is not None and self.balances[ref] < floor:
                    raise BelowFloor(f"{ref.code} is already below the floor {floor}")
                new_floors[ref] = floor
        after = dict(self.balances)
        for ref, delta in balance_change(entry).items():
            after[ref] += delta
            floor = new_floors[ref]
            if delta < 0 and floor is not None and after[ref] < floor:
                raise BelowFloor(f"{ref.code} would go below its floor")
        self.balances, self.floors = after, new_floors
        posted = PostedEntry(len(self.posted) + 1, self.now or datetime.now(UTC), entry)
        self.posted.append(posted)
        self.by_key[entry.idempotency_key] = posted
        return True

    def post_many(
        self, entries: list[JournalEntry], *, skip_below_floor: bool = False
    ) -> list[bool]:
        out = []
        for e in entries:
            try:
                out.append(self.post(e))
            except BelowFloor:
                if not skip_below_floor:
                    raise
                out.append(False)
        return out

    def set_floor(self, ref: AccountRef, floor: int | None) -> None:
        self._ensure(ref)
        if floor is not None and self.balances[ref] < floor:
            raise BelowFloor(f"{ref.code} is already below the floor {floor}")
        self.floors[ref] = floor

    def balance(self, ref: AccountRef) -> int:
        return self.balances.get(ref, 0)

    def account(self, ref: AccountRef) -> AccountState | None:
        if ref not in self.balances:
            return None
        return AccountState(ref, self.balances[ref], self.floors[ref])

    def balances_of(self, owner: str) -> dict[AccountRef, int]:
        return {ref: b for ref, b in sorted(self.balances.items()) if ref.owner == owner}

    def entry(self, key: str) -> JournalEntry | None:
        posted = self.by_key.get(key)
        return posted.entry if posted else None

    def entries(self, keys: list[str]) -> dict[str, PostedEntry]:
        return {k: self.by_key[k] for k in keys if k in self.by_key}

    def entries_for(
        self,
        owner: str | AccountRef,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PostedEntry]:
        def touches(entry: JournalEntry) -> bool:
            if isinstance(owner, AccountRef):
                return owner in entry.accounts()
            return any(ref.owner == owner for ref in entry.accounts())

        return [
            p
            for p in self.posted
            if touches(p.entry)
            and (since is None or p.posted_at >= since)
            and (until is None or p.posted_at < until)
        ]

    def check(self) -> CheckReport:
        recomputed: dict[AccountRef, int] = dict.fromkeys(self.balances, 0)
        differences: list[str] = []
        transfers = 0
        for posted in self.posted:
            transfers += len(posted.entry.transfers)
            for ref, delta in balance_change(posted.entry).items():
                recomputed[ref] += delta
        for ref, balance in self.balances.items():
            if recomputed[ref] != balance:
                differences.append(f"{ref.code}: {balance} ≠ journal {recomputed[ref]}")
            floor = self.floors[ref]
            if floor is not None and balance < floor:
                differences.append(f"{ref.code}: balance {balance} is below its floor {floor}")
        return CheckReport(len(self.balances), len(self.posted), transfers, tuple(differences))
