"""The double-entry ledger's rules, pure: accounts, transfers, journal entries, idempotency keys.

A journal entry is a set of transfers posted together under one idempotency key derived from
what caused it (``earn:answer:42``). Each transfer moves a positive amount from one account
(debit) to another (credit) of the same currency, so every entry balances to zero per currency
by construction; the database holds the same rule (engine/db/ledger_models.py). Entries are
never changed: a correction is a reversing entry (``reversal_of``).

Balances are kept on the credit-normal side: an account's balance is credits − debits, except
for ``CASH`` (money outside the engine: client deposits in, provider settlements out), which is
debit-normal. Accounts that hold someone's money have a floor (a worker's balance never goes
below 0; a client's funds not below minus its credit limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from engine.domain.money import Money, MoneyError, check_currency, check_minor


class AccountKind(StrEnum):
    CLIENT_FUNDS = "client_funds"  # a client's prepaid money (owner: client id)
    CLIENT_RESERVED = "client_reserved"  # held for one job at intake (owner: job id)
    WORKER_PENDING = "worker_pending"  # earned, in the hold period (owner: worker id)
    WORKER_AVAILABLE = "worker_available"  # earned and payable (owner: worker id)
    WORKER_BENEFITS = "worker_benefits"  # portable benefits savings (owner: worker id)
    PLATFORM_FEES = "platform_fees"  # the platform's fee income (owner: "platform")
    PROGRAMME_FUNDS = "programme_funds"  # a programme's budget: training pay, matches
    PROVIDER_IN_TRANSIT = "provider_in_transit"  # sent to a payout provider, not confirmed
    CASH = "cash"  # outside the ledger (owner: "world"); debit-normal


DEBIT_NORMAL = frozenset({AccountKind.CASH})
# Accounts that must never go below zero (credit-normal balance).
NO_OVERDRAFT = frozenset(
    {
        AccountKind.WORKER_PENDING,
        AccountKind.WORKER_AVAILABLE,
        AccountKind.WORKER_BENEFITS,
        AccountKind.PROVIDER_IN_TRANSIT,
        AccountKind.PLATFORM_FEES,
    }
)


class TransactionKind(StrEnum):
    TOPUP = "topup"  # a client deposit: cash → client funds
    RESERVE = "reserve"  # intake: client funds → job reservation
    EARN = "earn"  # an answer earned: job reservation → worker pending
    REVIEW_EARN = "review_earn"  # a review earned: job reservation → reviewer pending
    TRAINING_EARN = "training_earn"  # gold/training pay: programme funds → worker pending
    RELEASE_HOLD = "release_hold"  # hold over: worker pending → worker available
    FEE = "fee"  # delivery: job reservation → platform fees
    SETTLE_JOB = "settle_job"  # delivery: the rest of the reservation back to client funds
    PAYOUT = "payout"  # worker available → provider in transit (and benefits share)
    PAYOUT_CONFIRMED = "payout_confirmed"  # provider in transit → cash
    PAYOUT_FAILED = "payout_failed"  # provider in transit → worker available
    BENEFITS_MATCH = "benefits_match"  # programme/client funds → worker benefits
    REVERSAL = "reversal"  # undoes one earlier entry, transfer by transfer


@dataclass(frozen=True, slots=True, order=True)
class AccountRef:
    """One account: what it is for, whose it is, and its currency."""

    kind: AccountKind
    owner: str
    currency: str

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if not self.owner or len(self.owner) > 100:
            raise LedgerError("an account needs an owner id of 1-100 characters")

    @property
    def code(self) -> str:
        """A stable text id: ``worker_pending:<worker id>:KES``."""
        return f"{self.kind.value}:{self.owner}:{self.currency}"

    @property
    def debit_normal(self) -> bool:
        return self.kind in DEBIT_NORMAL


def platform_fees(currency: str) -> AccountRef:
    return AccountRef(AccountKind.PLATFORM_FEES, "platform", currency)


def cash(currency: str) -> AccountRef:
    return AccountRef(AccountKind.CASH, "world", currency)


def client_funds(client_id: str, currency: str) -> AccountRef:
    return AccountRef(AccountKind.CLIENT_FUNDS, client_id, currency)


def job_reservation(job_id: str, currency: str) -> AccountRef:
    return AccountRef(AccountKind.CLIENT_RESERVED, job_id, currency)


def worker_pending(worker_id: str, currency: str) -> AccountRef:
    return AccountRef(AccountKind.WORKER_PENDING, worker_id, currency)


def worker_available(worker_id: str, currency: str) -> AccountRef:
    return AccountRef(AccountKind.WORKER_AVAILABLE, worker_id, currency)


class LedgerError(ValueError):
    """An entry the ledger refuses (unbalanced, wrong currency, bad amount, overdraft)."""


@dataclass(frozen=True, slots=True)
class Transfer:
    debit: AccountRef
    credit: AccountRef
    amount: int  # minor units, > 0

    def __post_init__(self) -> None:
        try:
            check_minor(self.amount)
        except MoneyError as error:
            raise LedgerError(str(error)) from None
        if self.amount <= 0:
            raise LedgerError("a transfer moves a positive amount")
        if self.debit.currency != self.credit.currency:
            raise LedgerError(
                f"a transfer stays in one currency ({self.debit.currency} → {self.credit.currency})"
            )
        if self.debit == self.credit:
            raise LedgerError("a transfer needs two different accounts")

    @property
    def money(self) -> Money:
        return Money(self.debit.currency, self.amount)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    idempotency_key: str
    kind: TransactionKind
    transfers: tuple[Transfer, ...]
    memo: str = ""
    reverses: str | None = None  # the idempotency key of the entry this one undoes
    # What caused it, for people reading a statement: {"answer_id": 42, "job_id": "..."}.
    cause: Mapping[str, str | int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.idempotency_key or len(self.idempotency_key) > 200:
            raise LedgerError("an entry needs an idempotency key of 1-200 characters")
        if not self.transfers:
            raise LedgerError("an entry moves money: it needs at least one transfer")

    def accounts(self) -> set[AccountRef]:
        return {a for t in self.transfers for a in (t.debit, t.credit)}

    def same_content(self, other: JournalEntry) -> bool:
        """Two posts under one key must be the same entry; anything else is a conflict."""
        return (self.kind, sorted(_flat(self.transfers))) == (
            other.kind,
            sorted(_flat(other.transfers)),
        )


def _flat(transfers: Iterable[Transfer]) -> list[tuple[str, str, int]]:
    return [(t.debit.code, t.credit.code, t.amount) for t in transfers]


def entry(
    key: str,
    kind: TransactionKind,
    *transfers: Transfer,
    memo: str = "",
    cause: Mapping[str, str | int] | None = None,
) -> JournalEntry:
    return JournalEntry(key, kind, tuple(transfers), memo=memo, cause=dict(cause or {}))


def reversal_of(original: JournalEntry, memo: str = "") -> JournalEntry:
    """The entry that undoes ``original``: every transfer the other way round."""
    return JournalEntry(
        idempotency_key=f"reverse:{original.idempotency_key}",
        kind=TransactionKind.REVERSAL,
        transfers=tuple(Transfer(t.credit, t.debit, t.amount) for t in original.transfers),
        memo=memo or f"reverses {original.idempotency_key}",
        reverses=original.idempotency_key,
        cause=dict(original.cause),
    )


def balance_change(entry_: JournalEntry) -> dict[AccountRef, int]:
    """What the entry does to each account's balance (on the account's normal side)."""
    change: dict[AccountRef, int] = {}
    for t in entry_.transfers:
        change[t.debit] = change.get(t.debit, 0) + (t.amount if t.debit.debit_normal else -t.amount)
        change[t.credit] = change.get(t.credit, 0) + (
            -t.amount if t.credit.debit_normal else t.amount
        )
    return change


def apply_entry(
    balances: Mapping[AccountRef, int],
    entry_: JournalEntry,
    floors: Mapping[AccountRef, int] | None = None,
) -> dict[AccountRef, int]:
    """The balances after the entry; refuses an entry that takes an account below its floor
    (0 for NO_OVERDRAFT kinds unless ``floors`` says otherwise)."""
    after = dict(balances)
    for account, delta in balance_change(entry_).items():
        after[account] = after.get(account, 0) + delta
        floor = floor_of(account, floors)
        if floor is not None and delta < 0 and after[account] < floor:
            raise LedgerError(
                f"{account.code} would go to {after[account]}, below its floor {floor}"
            )
    return after


def floor_of(account: AccountRef, floors: Mapping[AccountRef, int] | None = None) -> int | None:
    if floors is not None and account in floors:
        return floors[account]
    return 0 if account.kind in NO_OVERDRAFT else None


# -- idempotency keys, derived from the cause ------------------------------------------------


def earn_answer_key(answer_id: int) -> str:
    return f"earn:answer:{answer_id}"


def earn_review_key(review_id: int) -> str:
    return f"earn:review:{review_id}"


def release_hold_key(earn_key: str) -> str:
    return f"release:{earn_key}"


def reserve_job_key(job_id: str) -> str:
    return f"reserve:job:{job_id}"


def fee_job_key(job_id: str) -> str:
    return f"fee:job:{job_id}"


def settle_job_key(job_id: str) -> str:
    return f"settle:job:{job_id}"


def topup_key(client_id: str, reference: str) -> str:
    return f"topup:{client_id}:{reference}"


def payout_key(batch_id: str, worker_id: str) -> str:
    return f"payout:{batch_id}:{worker_id}"


def payout_result_key(payout_id: str) -> str:
    """Confirmation and failure share one key: a payout ends once, whichever comes first."""
    return f"payout-result:{payout_id}"


def benefits_match_key(batch_id: str, worker_id: str) -> str:
    return f"benefits-match:{batch_id}:{worker_id}"
