"""Payout methods (register, confirm, change-hold, lock) and one worker's payout posting,
with fakes: the posting is one balanced entry, a second decision sees the open payout, and a
result settles it exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.domain.ledger import AccountKind, AccountRef, TransactionKind, Transfer, entry
from engine.domain.money import Money
from engine.domain.payout_plan import PayoutRules, PlannedPayout, Skipped, programme_funds
from engine.payouts import service
from engine.payouts.payout_settings import PayoutSettings
from engine.payouts.providers import SendOutcome
from engine.workforce.token_cipher import TokenCipher
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.payouts.fake_payouts import FakePayoutRepository

CIPHER = TokenCipher("k" * 40)
SETTINGS = PayoutSettings(method_change_hold_hours=48, benefits_share_bps=500)
NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)


def uow_with(*workers: str) -> FakeUnitOfWork:
    return FakeUnitOfWork(payouts=FakePayoutRepository(workers=set(workers)))


def register(uow: FakeUnitOfWork, worker: str = "w1", msisdn: str = "+254712345678") -> str:
    service.register_method(uow, worker, "mpesa", msisdn, "Amina", CIPHER, now=NOW)  # type: ignore[arg-type]
    code = service.pending_code(uow, worker, CIPHER)  # type: ignore[arg-type]
    assert code is not None and len(code) == 6
    return code


def confirm(
    uow: FakeUnitOfWork, code: str, worker: str = "w1", now: datetime = NOW
) -> service.Confirmation:
    return service.confirm_method(uow, worker, code, CIPHER, SETTINGS, now=now)  # type: ignore[arg-type]


def test_number_is_sealed_and_masked() -> None:
    uow = uow_with("w1")
    register(uow)
    row = uow.payouts.methods[0]  # type: ignore[attr-defined]
    assert row.msisdn_masked == "+2547•••••678"
    assert (
        "712345678" not in row.msisdn_sealed and CIPHER.open(row.msisdn_sealed) == "+254712345678"
    )


def test_first_method_confirms_without_hold() -> None:
    uow = uow_with("w1")
    done = confirm(uow, register(uow))
    assert done.outcome is service.ConfirmOutcome.CONFIRMED and done.method.hold_until is None
    assert confirm(uow, "123456").outcome is service.ConfirmOutcome.ALREADY


def test_change_holds_and_replaces_the_old_one() -> None:
    uow = uow_with("w1")
    confirm(uow, register(uow))
    code = register(uow, msisdn="+254722000111")
    states = [m.state for m in uow.payouts.methods]  # type: ignore[attr-defined]
    assert states == ["replaced", "pending"]
    done = confirm(uow, code)
    assert done.method.hold_until == NOW + timedelta(hours=48)


def test_wrong_codes_count_then_lock() -> None:
    uow = uow_with("w1")
    code = register(uow)
    wrong = "000000" if code != "000000" else "999999"
    outcomes = [confirm(uow, wrong).outcome for _ in range(5)]
    assert outcomes == [service.ConfirmOutcome.WRONG_CODE] * 4 + [service.ConfirmOutcome.LOCKED]
    assert confirm(uow, code).outcome is service.ConfirmOutcome.LOCKED


def test_expired_code() -> None:
    uow = uow_with("w1")
    code = register(uow)
    late = NOW + timedelta(minutes=31)
    assert confirm(uow, code, now=late).outcome is service.ConfirmOutcome.EXPIRED


@pytest.mark.parametrize(
    ("provider", "msisdn", "name"),
    [("paypal", "+254712345678", "A"), ("mpesa", "123", "A"), ("mpesa", "+254712345678", "")],
)
def test_register_refuses_bad_input(provider: str, msisdn: str, name: str) -> None:
    with pytest.raises(service.PayoutError):
        service.register_method(uow_with("w1"), "w1", provider, msisdn, name, CIPHER)  # type: ignore[arg-type]


def test_unknown_worker() -> None:
    with pytest.raises(service.MethodNotFound):
        service.register_method(uow_with(), "nobody", "mpesa", "+254712345678", "A", CIPHER)  # type: ignore[arg-type]


def fund(uow: FakeUnitOfWork, worker: str, amount: int) -> None:
    to = AccountRef(AccountKind.WORKER_AVAILABLE, worker, "KES")
    uow.ledger.post(
        entry(
            f"fund:{worker}",
            TransactionKind.RELEASE_HOLD,
            Transfer(programme_funds("KES"), to, amount),
        )
    )


def test_post_then_open_payout_then_settle_once() -> None:
    uow = uow_with("w1")
    confirm(uow, register(uow))
    fund(uow, "w1", 10_000)
    rules = PayoutRules(Money("KES", 0), share_bps=500)
    plan = service.post_worker_payout(uow, "b1", "w1", rules, NOW)  # type: ignore[arg-type]
    assert isinstance(plan, PlannedPayout) and plan.net == Money("KES", 9_500)
    assert uow.ledger.by_key["payout:b1:w1"]  # type: ignore[attr-defined]
    assert service.post_worker_payout(uow, "b2", "w1", rules, NOW) == "open_payout"  # type: ignore[arg-type]
    [payout] = uow.payouts.payouts  # type: ignore[attr-defined]
    result = service.ProviderResult("test", payout.id, SendOutcome.FAILED)
    assert service.apply_result(uow, result).outcome is service.ResultOutcome.APPLIED  # type: ignore[arg-type]
    assert service.apply_result(uow, result).outcome is service.ResultOutcome.DUPLICATE  # type: ignore[arg-type]
    available = AccountRef(AccountKind.WORKER_AVAILABLE, "w1", "KES")
    assert uow.ledger.balance(available) == 9_500
    assert [r.outcome for r in uow.payouts.results] == ["applied", "duplicate"]  # type: ignore[attr-defined]


def test_unconfirmed_method_is_not_paid() -> None:
    uow = uow_with("w1")
    register(uow)
    fund(uow, "w1", 10_000)
    got = service.post_worker_payout(uow, "b1", "w1", PayoutRules(Money("KES", 0)), NOW)  # type: ignore[arg-type]
    assert isinstance(got, Skipped) and got.reason.value == "unconfirmed_method"
    assert uow.payouts.payouts == []  # type: ignore[attr-defined]


def test_callback_tokens() -> None:
    token = service.callback_token("p1", "key-a")
    assert service.payout_of_token(token, ("key-b", "key-a")) == "p1"  # a previous key
    assert service.payout_of_token(token, ("key-b",)) is None
    assert service.payout_of_token("p2" + token[2:], ("key-a",)) is None
    assert service.payout_of_token("nodot", ("key-a",)) is None
