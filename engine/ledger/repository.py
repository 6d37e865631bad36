"""All SQL for the ledger: accounts with maintained balances, and the immutable journal.

``post`` writes one journal entry exactly once per idempotency key: the transaction row is
inserted with ON CONFLICT DO NOTHING, so of two racing posts of one key (threads, processes, a
redelivered task) only one writes; the other waits for it, then compares content. Balance rows
are updated in the same database transaction. A post locks its accounts first, in id order,
then takes its key: posts sharing accounts queue in one order (no deadlock between them).
``post_many`` does the same for a batch, with one UPDATE per account for all of it. A
transaction that posts several times takes locks in several rounds: post a batch at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from engine.db.ledger_models import (
    NORMAL_BALANCE_SQL,
    JournalTransactionRow,
    JournalTransferRow,
    LedgerAccountRow,
)
from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    JournalEntry,
    LedgerError,
    TransactionKind,
    Transfer,
)
from engine.ledger.errors import IdempotencyConflict
from engine.ledger.floors import initial_floor

_NORMAL_BALANCE = literal_column(f"({NORMAL_BALANCE_SQL})", BigInteger())
_DEBIT = aliased(LedgerAccountRow, name="debit_account")
_CREDIT = aliased(LedgerAccountRow, name="credit_account")


@dataclass(frozen=True, slots=True)
class PostedEntry:
    """A journal entry as posted: when, and its row id (for ordering)."""

    id: int
    posted_at: datetime
    entry: JournalEntry


@dataclass(frozen=True, slots=True)
class AccountState:
    ref: AccountRef
    balance: int  # on the account's normal side
    floor: int | None


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``kazi ledger check`` prints: empty ``differences`` means the ledger is whole."""

    accounts: int
    transactions: int
    transfers: int
    differences: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.differences

    def as_json(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "transactions": self.transactions,
            "transfers": self.transfers,
            "clean": self.clean,
            "differences": list(self.differences),
        }


def _ref(row: Any) -> AccountRef:
    return AccountRef(AccountKind(row.kind), row.owner, row.currency)


def _normal(kind: AccountKind, debits: int, credits: int) -> int:
    return debits - credits if kind is AccountKind.CASH else credits - debits


class LedgerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _insert(self, table: Any) -> Any:
        if self.session.get_bind().dialect.name == "postgresql":
            return pg_insert(table)
        return sqlite_insert(table)

    # Posting ----------------------------------------------------------------------------
    def post(
        self, entry: JournalEntry, floors: Mapping[AccountRef, int | None] | None = None
    ) -> bool:
        """Post ``entry`` once. True when written now; False when its key was already posted
        with the same transfers; IdempotencyConflict when the key holds different ones; a
        LedgerError (nothing written) when it would take an account below its floor.
        ``floors`` sets the stored floor of accounts in the entry (a client's credit limit)."""
        refs = sorted(entry.accounts())
        accounts = self._ensure_accounts(refs)
        changes = _posted_changes(entry.transfers)
        guarded = bool(floors) or any(
            accounts[ref].floor is not None and _normal(ref.kind, d, c) < 0
            for ref, (d, c) in changes.items()
        )
        if not guarded:
            return self._write(entry, refs, accounts, changes, floors)
        # A refused entry must leave no trace in the caller's transaction: a savepoint.
        try:
            with self.session.begin_nested():
                return self._write(entry, refs, accounts, changes, floors)
        except _Refused as refused:
            raise BelowFloor(str(refused)) from None

    def post_many(
        self, entries: Sequence[JournalEntry], *, skip_below_floor: bool = False
    ) -> list[bool]:
        """Post several entries, each exactly as ``post`` would (True / False per entry, in
        order), with one balance UPDATE per account for the lot: the many earnings of one
        scoring. Entries are written in key order (two batches take key locks alike); an entry
        that could break a floor is posted on its own, after the others (with
        ``skip_below_floor``, one the floor refuses is left out: False). Raises as ``post``
        does; what was written before the error stays in the caller's transaction."""
        refs = sorted({ref for e in entries for ref in e.accounts()})
        accounts = self._ensure_accounts(refs)
        ids = {ref: row.id for ref, row in accounts.items()}
        done: dict[int, bool] = {}
        alone: list[int] = []
        first: dict[str, int] = {}  # key -> the batch's first entry under it
        for i in sorted(range(len(entries)), key=lambda i: entries[i].idempotency_key):
            e = entries[i]
            if any(
                accounts[ref].floor is not None and _normal(ref.kind, d, c) < 0
                for ref, (d, c) in _posted_changes(e.transfers).items()
            ):
                alone.append(i)
            elif e.idempotency_key in first:  # a repeat inside the batch
                if not entries[first[e.idempotency_key]].same_content(e):
                    raise IdempotencyConflict(
                        f"{e.idempotency_key} was already posted with different transfers"
                    )
                done[i] = False
            else:
                first[e.idempotency_key] = i
        written = self._insert_entries([entries[i] for i in first.values()], ids)
        total: dict[AccountRef, tuple[int, int]] = {}
        for key, i in first.items():
            done[i] = key in written
            if done[i]:
                for ref, (d, c) in _posted_changes(entries[i].transfers).items():
                    before = total.get(ref, (0, 0))
                    total[ref] = (before[0] + d, before[1] + c)
        try:
            self._apply(sorted(total), ids, total)
        except _Refused as refused:  # a floor set since the accounts were read
            raise BelowFloor(str(refused)) from None
        for i in alone:
            try:
                done[i] = self.post(entries[i])
            except BelowFloor:
                if not skip_below_floor:
                    raise
                done[i] = False  # nothing written (its savepoint rolled back)
        return [done[i] for i in range(len(entries))]

    def _write(
        self,
        entry: JournalEntry,
        refs: Sequence[AccountRef],
        accounts: Mapping[AccountRef, _Row],
        changes: Mapping[AccountRef, tuple[int, int]],
        floors: Mapping[AccountRef, int | None] | None,
    ) -> bool:
        ids = {ref: accounts[ref].id for ref in refs}
        if not self._insert_entry(entry, ids):
            return False
        if floors:
            for ref in refs:
                if ref in floors:
                    self._store_floor(ids[ref], ref, floors[ref])
        self._apply(refs, ids, changes)
        return True

    def _insert_entries(
        self, entries: Sequence[JournalEntry], ids: Mapping[AccountRef, int]
    ) -> set[str]:
        """The journal rows of entries with distinct keys, in few statements (multi-row
        inserts); returns the keys written now. A key already posted is compared with what
        it holds (IdempotencyConflict when different)."""
        if not entries:
            return set()
        now = datetime.now(UTC)
        inserted = {
            row.idempotency_key: row.id
            for row in self.session.execute(
                self._insert(JournalTransactionRow)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(JournalTransactionRow.id, JournalTransactionRow.idempotency_key),
                [
                    {
                        "idempotency_key": e.idempotency_key,
                        "kind": e.kind.value,
                        "memo": e.memo,
                        "reverses": e.reverses,
                        "cause": dict(e.cause),
                        "posted_at": now,
                    }
                    for e in entries
                ],  # fmt: skip
            )
        }
        existing = self.entries(
            e.idempotency_key for e in entries if e.idempotency_key not in inserted
        )
        for e in entries:
            if e.idempotency_key in existing and not existing[e.idempotency_key].entry.same_content(
                e
            ):
                raise IdempotencyConflict(
                    f"{e.idempotency_key} was already posted with different transfers"
                )
        rows = [
            {"transaction_id": inserted[e.idempotency_key], "debit_account_id": ids[t.debit],
             "credit_account_id": ids[t.credit], "currency": t.debit.currency, "amount": t.amount}
            for e in entries
            if e.idempotency_key in inserted
            for t in e.transfers
        ]  # fmt: skip
        if rows:
            self.session.execute(self._insert(JournalTransferRow), rows)
        return set(inserted)

    def _insert_entry(self, entry: JournalEntry, ids: Mapping[AccountRef, int]) -> bool:
        """The journal rows of ``entry``; False (nothing written) when its key holds the same
        entry already, IdempotencyConflict when it holds another."""
        transaction_id = self.session.scalar(
            self._insert(JournalTransactionRow)
            .values(
                idempotency_key=entry.idempotency_key,
                kind=entry.kind.value,
                memo=entry.memo,
                reverses=entry.reverses,
                cause=dict(entry.cause),
                posted_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(JournalTransactionRow.id)
        )
        if transaction_id is None:
            existing = self.entry(entry.idempotency_key)
            if existing is None or not existing.same_content(entry):
                raise IdempotencyConflict(
                    f"{entry.idempotency_key} was already posted with different transfers"
                )
            return False
        self.session.execute(
            self._insert(JournalTransferRow),
            [
                {
                    "transaction_id": transaction_id,
                    "debit_account_id": ids[t.debit],
                    "credit_account_id": ids[t.credit],
                    "currency": t.debit.currency,
                    "amount": t.amount,
                }
                for t in entry.transfers
            ],
        )
        return True

    def _apply(
        self,
        refs: Sequence[AccountRef],
        ids: Mapping[AccountRef, int],
        changes: Mapping[AccountRef, tuple[int, int]],
    ) -> None:
        """The balance rows' share of posted entries; raises _Refused below a floor."""
        for ref in refs:  # sorted: every post locks shared accounts in the same order
            debits, credits = changes[ref]
            delta = _normal(ref.kind, debits, credits)
            stmt = (
                update(LedgerAccountRow)
                .where(LedgerAccountRow.id == ids[ref])
                .values(
                    debits_posted=LedgerAccountRow.debits_posted + debits,
                    credits_posted=LedgerAccountRow.credits_posted + credits,
                )
                .returning(LedgerAccountRow.id)
            )
            if delta < 0:
                stmt = stmt.where(
                    or_(
                        LedgerAccountRow.floor.is_(None),
                        _NORMAL_BALANCE + delta >= LedgerAccountRow.floor,
                    )
                )
            if self.session.scalar(stmt) is None:
                raise _Refused(f"{ref.code} would go below its floor")

    def _store_floor(self, account_id: int, ref: AccountRef, floor: int | None) -> None:
        stmt = (
            update(LedgerAccountRow)
            .where(LedgerAccountRow.id == account_id)
            .values(floor=floor)
            .returning(LedgerAccountRow.id)
        )
        if floor is not None:
            stmt = stmt.where(literal(floor) <= _NORMAL_BALANCE)
        if self.session.scalar(stmt) is None:
            raise _Refused(f"{ref.code} is already below the floor {floor}")

    def _ensure_accounts(self, refs: Sequence[AccountRef]) -> dict[AccountRef, _Row]:
        """The accounts' rows, created on first use, locked for this transaction. Missing
        accounts are created before any is locked: holding a lock while waiting on another
        post's new account could deadlock."""
        found = self._account_rows(refs)
        missing = [ref for ref in refs if ref not in found]
        if missing:
            now = datetime.now(UTC)
            self.session.execute(
                self._insert(LedgerAccountRow)
                .values(
                    [
                        {
                            "kind": ref.kind.value,
                            "owner": ref.owner,
                            "currency": ref.currency,
                            "debits_posted": 0,
                            "credits_posted": 0,
                            "floor": initial_floor(ref),
                            "created_at": now,
                        }
                        for ref in missing
                    ]
                )
                .on_conflict_do_nothing(index_elements=["kind", "owner", "currency"])
            )
        return self._account_rows(refs, lock=True)

    def _account_rows(
        self, refs: Sequence[AccountRef], *, lock: bool = False
    ) -> dict[AccountRef, _Row]:
        if not refs:
            return {}
        stmt = (
            select(
                LedgerAccountRow.id,
                LedgerAccountRow.kind,
                LedgerAccountRow.owner,
                LedgerAccountRow.currency,
                LedgerAccountRow.debits_posted,
                LedgerAccountRow.credits_posted,
                LedgerAccountRow.floor,
            )
            .where(
                tuple_(
                    LedgerAccountRow.kind, LedgerAccountRow.owner, LedgerAccountRow.currency
                ).in_([(r.kind.value, r.owner, r.currency) for r in refs])
            )
            .order_by(LedgerAccountRow.id)
        )
        # Locked in id order, before any journal key is taken: posts that share accounts
        # queue on them in one order and never hold a key another post waits for.
        rows = self.session.execute(stmt.with_for_update(key_share=True) if lock else stmt)
        out: dict[AccountRef, _Row] = {}
        for row in rows:
            ref = _ref(row)
            out[ref] = _Row(
                row.id, ref, _normal(ref.kind, row.debits_posted, row.credits_posted), row.floor
            )
        return out

    def set_floor(self, ref: AccountRef, floor: int | None) -> None:
        """A client's credit limit is ``set_floor(funds, -limit)``; refused (LedgerError) when
        the balance is already below the new floor."""
        account = self._ensure_accounts([ref])[ref]
        if account.floor == floor:
            return
        try:
            with self.session.begin_nested():
                self._store_floor(account.id, ref, floor)
        except _Refused as refused:
            raise BelowFloor(str(refused)) from None

    # Reading ----------------------------------------------------------------------------
    def balance(self, ref: AccountRef) -> int:
        """The account's balance on its normal side (0 for an account never used): one row."""
        value = self.session.scalar(
            select(_NORMAL_BALANCE)
            .select_from(LedgerAccountRow)
            .where(
                LedgerAccountRow.kind == ref.kind.value,
                LedgerAccountRow.owner == ref.owner,
                LedgerAccountRow.currency == ref.currency,
            )
        )
        return int(value or 0)

    def account(self, ref: AccountRef) -> AccountState | None:
        row = self._account_rows([ref]).get(ref)
        return None if row is None else AccountState(ref, row.balance, row.floor)

    def balances_of(self, owner: str) -> dict[AccountRef, int]:
        rows = self.session.execute(
            select(
                LedgerAccountRow.kind,
                LedgerAccountRow.owner,
                LedgerAccountRow.currency,
                LedgerAccountRow.debits_posted,
                LedgerAccountRow.credits_posted,
            )
            .where(LedgerAccountRow.owner == owner)
            .order_by(LedgerAccountRow.kind, LedgerAccountRow.currency)
        )
        out: dict[AccountRef, int] = {}
        for row in rows:
            ref = _ref(row)
            out[ref] = _normal(ref.kind, row.debits_posted, row.credits_posted)
        return out

    def entry(self, key: str) -> JournalEntry | None:
        posted = self._load(select(JournalTransactionRow).where(
            JournalTransactionRow.idempotency_key == key
        ))  # fmt: skip
        return posted[0].entry if posted else None

    def entries(self, keys: Iterable[str]) -> dict[str, PostedEntry]:
        """The posted entries among ``keys`` (in chunks: SQLite caps bound parameters)."""
        keys = sorted(set(keys))
        out: dict[str, PostedEntry] = {}
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            for p in self._load(
                select(JournalTransactionRow).where(
                    JournalTransactionRow.idempotency_key.in_(chunk)
                )
            ):
                out[p.entry.idempotency_key] = p
        return out

    def entries_for(
        self,
        owner: str | AccountRef,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PostedEntry]:
        """Entries touching any account of ``owner`` (or one account), oldest first;
        ``since`` inclusive, ``until`` exclusive."""
        account = select(LedgerAccountRow.id)
        if isinstance(owner, AccountRef):
            account = account.where(
                LedgerAccountRow.kind == owner.kind.value,
                LedgerAccountRow.owner == owner.owner,
                LedgerAccountRow.currency == owner.currency,
            )
        else:
            account = account.where(LedgerAccountRow.owner == owner)
        touching = select(JournalTransferRow.transaction_id).where(
            or_(
                JournalTransferRow.debit_account_id.in_(account),
                JournalTransferRow.credit_account_id.in_(account),
            )
        )
        stmt = select(JournalTransactionRow).where(JournalTransactionRow.id.in_(touching))
        if since is not None:
            stmt = stmt.where(JournalTransactionRow.posted_at >= since)
        if until is not None:
            stmt = stmt.where(JournalTransactionRow.posted_at < until)
        return self._load(stmt)

    def _load(self, transactions: Select[JournalTransactionRow]) -> list[PostedEntry]:
        rows = self.session.scalars(
            transactions.order_by(JournalTransactionRow.posted_at, JournalTransactionRow.id)
        ).all()
        if not rows:
            return []
        transfers: dict[int, list[Transfer]] = {row.id: [] for row in rows}
        ids = list(transfers)
        legs = (
            select(
                JournalTransferRow.transaction_id,
                JournalTransferRow.amount,
                _DEBIT.kind.label("d_kind"),
                _DEBIT.owner.label("d_owner"),
                _CREDIT.kind.label("c_kind"),
                _CREDIT.owner.label("c_owner"),
                JournalTransferRow.currency,
            )
            .join(_DEBIT, _DEBIT.id == JournalTransferRow.debit_account_id)
            .join(_CREDIT, _CREDIT.id == JournalTransferRow.credit_account_id)
            .order_by(JournalTransferRow.id)
        )
        for i in range(0, len(ids), 1000):  # chunks: SQLite caps bound parameters
            chunk = ids[i : i + 1000]
            for t in self.session.execute(legs.where(JournalTransferRow.transaction_id.in_(chunk))):
                transfers[t.transaction_id].append(
                    Transfer(
                        AccountRef(AccountKind(t.d_kind), t.d_owner, t.currency),
                        AccountRef(AccountKind(t.c_kind), t.c_owner, t.currency),
                        int(t.amount),
                    )
                )
        return [
            PostedEntry(
                row.id,
                row.posted_at,
                JournalEntry(
                    idempotency_key=row.idempotency_key,
                    kind=TransactionKind(row.kind),
                    transfers=tuple(transfers[row.id]),
                    memo=row.memo,
                    reverses=row.reverses,
                    cause=dict(row.cause or {}),
                ),
            )
            for row in rows
        ]

    # Checking ---------------------------------------------------------------------------
    def check(self) -> CheckReport:
        """Recompute every balance from the journal and check every transaction nets to zero
        per currency (each leg priced in its own account's currency)."""
        differences: list[str] = []
        debits = (
            select(
                JournalTransferRow.debit_account_id.label("account_id"),
                func.sum(JournalTransferRow.amount).label("debits"),
                literal(0).label("credits"),
            )
            .group_by(JournalTransferRow.debit_account_id)
        )  # fmt: skip
        credits = select(
            JournalTransferRow.credit_account_id.label("account_id"),
            literal(0).label("debits"),
            func.sum(JournalTransferRow.amount).label("credits"),
        ).group_by(JournalTransferRow.credit_account_id)
        legs = union_all(debits, credits).subquery()
        totals = (
            select(
                legs.c.account_id,
                func.sum(legs.c.debits).label("debits"),
                func.sum(legs.c.credits).label("credits"),
            )
            .group_by(legs.c.account_id)
            .subquery()
        )
        accounts = 0
        for row in self.session.execute(
            select(
                LedgerAccountRow.kind,
                LedgerAccountRow.owner,
                LedgerAccountRow.currency,
                LedgerAccountRow.debits_posted,
                LedgerAccountRow.credits_posted,
                LedgerAccountRow.floor,
                func.coalesce(totals.c.debits, 0).label("journal_debits"),
                func.coalesce(totals.c.credits, 0).label("journal_credits"),
            )
            .outerjoin(totals, totals.c.account_id == LedgerAccountRow.id)
            .order_by(LedgerAccountRow.id)
        ):
            accounts += 1
            code = f"{row.kind}:{row.owner}:{row.currency}"
            if (row.debits_posted, row.credits_posted) != (
                int(row.journal_debits),
                int(row.journal_credits),
            ):
                differences.append(
                    f"{code}: balance row says debits {row.debits_posted} credits "
                    f"{row.credits_posted}, the journal {row.journal_debits} / "
                    f"{row.journal_credits}"
                )
            balance = _normal(AccountKind(row.kind), row.debits_posted, row.credits_posted)
            if row.floor is not None and balance < row.floor:
                differences.append(f"{code}: balance {balance} is below its floor {row.floor}")
        # Each transaction's legs, signed, in the currency of the account each leg touches.
        debit_legs = select(
            JournalTransferRow.transaction_id, _DEBIT.currency, JournalTransferRow.amount
        ).join(_DEBIT, _DEBIT.id == JournalTransferRow.debit_account_id)
        credit_legs = select(
            JournalTransferRow.transaction_id,
            _CREDIT.currency,
            (-JournalTransferRow.amount).label("amount"),
        ).join(_CREDIT, _CREDIT.id == JournalTransferRow.credit_account_id)
        signed = union_all(debit_legs, credit_legs).subquery()
        for row in self.session.execute(
            select(signed.c.transaction_id, signed.c.currency, func.sum(signed.c.amount))
            .group_by(signed.c.transaction_id, signed.c.currency)
            .having(func.sum(signed.c.amount) != 0)
        ):
            differences.append(
                f"transaction {row[0]} does not balance in {row[1]}: off by {row[2]}"
            )
        bad_amounts = self.session.scalar(
            select(func.count())
            .select_from(JournalTransferRow)
            .where(JournalTransferRow.amount <= 0)
        )
        if bad_amounts:
            differences.append(f"{bad_amounts} transfers move a non-positive amount")
        empty = self.session.scalar(
            select(func.count())
            .select_from(JournalTransactionRow)
            .where(
                ~select(JournalTransferRow.id)
                .where(JournalTransferRow.transaction_id == JournalTransactionRow.id)
                .exists()
            )
        )
        if empty:
            differences.append(f"{empty} transactions have no transfers")
        transactions = self.session.scalar(select(func.count(JournalTransactionRow.id))) or 0
        transfers = self.session.scalar(select(func.count(JournalTransferRow.id))) or 0
        return CheckReport(accounts, int(transactions), int(transfers), tuple(differences))


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    ref: AccountRef
    balance: int
    floor: int | None


class _Refused(Exception):
    """Raised inside the savepoint so it rolls back; turned into BelowFloor outside."""


class BelowFloor(LedgerError):
    """The entry would take an account below its floor; nothing was written."""


def _posted_changes(transfers: Iterable[Transfer]) -> dict[AccountRef, tuple[int, int]]:
    """(debits, credits) each account gets from the transfers."""
    out: dict[AccountRef, tuple[int, int]] = {}
    for t in transfers:
        d, c = out.get(t.debit, (0, 0))
        out[t.debit] = (d + t.amount, c)
        d, c = out.get(t.credit, (0, 0))
        out[t.credit] = (d, c + t.amount)
    return out
