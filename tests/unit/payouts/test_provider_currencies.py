"""A provider pays only its currencies: M-Pesa B2C KES, MTN MoMo KAZI_MOMO_CURRENCIES, a CSV
export any. The plan skips a worker whose provider cannot pay the run's currency (nothing
posted), a run for one provider in a currency it does not pay is refused up front, and an
adapter handed such an order refuses it without calling the provider."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from engine.domain.ledger import AccountKind, AccountRef, TransactionKind, Transfer, entry
from engine.domain.money import Money
from engine.domain.payout_plan import (
    MethodView,
    PayoutPlanError,
    PayoutRules,
    PlannedPayout,
    Skipped,
    SkipReason,
    plan_payout,
    programme_funds,
)
from engine.payouts import service
from engine.payouts.payout_settings import PayoutSettings
from engine.payouts.providers import PayoutOrder, SendOutcome
from engine.payouts.providers.csv_export import CsvExport
from engine.payouts.providers.mpesa_b2c import MpesaB2C, whole_amount
from engine.payouts.providers.mtn_momo import MtnMomoDisbursement
from engine.payouts.providers.registry import ProviderRegistry
from engine.settings import Settings
from engine.workforce.token_cipher import TokenCipher
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.payouts.fake_payouts import FakePayoutRepository

NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)
CURRENCIES = {"mpesa": frozenset({"KES"}), "mtn_momo": frozenset({"UGX", "EUR"})}


def method(provider: str) -> MethodView:
    return MethodView("m", provider, confirmed=True)


def rules(currency: str, **kw: object) -> PayoutRules:
    return PayoutRules(Money(currency, 0), currencies=CURRENCIES, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("provider", "currency", "detail"),
    [
        ("mpesa", "UGX", "mpesa pays KES only, not UGX"),
        ("mpesa", "GHS", "mpesa pays KES only, not GHS"),
        ("mtn_momo", "KES", "mtn_momo pays EUR, UGX, not KES"),
    ],
)
def test_a_provider_that_cannot_pay_the_currency_is_skipped(
    provider: str, currency: str, detail: str
) -> None:
    got = plan_payout("w", Money(currency, 100_000), method(provider), rules(currency), NOW)
    assert got == Skipped("w", SkipReason.CURRENCY_NOT_PAID, detail)


@pytest.mark.parametrize(
    ("provider", "currency"),
    [("mpesa", "KES"), ("mtn_momo", "UGX"), ("mtn_momo", "EUR"), ("csv:bank", "MWK")],
)
def test_a_provider_pays_its_currencies(provider: str, currency: str) -> None:
    got = plan_payout("w", Money(currency, 100_000), method(provider), rules(currency), NOW)
    assert isinstance(got, PlannedPayout) and got.net.currency == currency


def test_mpesa_pays_kes_only_by_default() -> None:
    # Rules built without a currency table still know M-Pesa's.
    got = plan_payout(
        "w", Money("UGX", 100_000), method("mpesa"), PayoutRules(Money("UGX", 0)), NOW
    )
    assert isinstance(got, Skipped) and got.reason is SkipReason.CURRENCY_NOT_PAID


def test_unconfirmed_method_in_an_unpaid_currency_says_the_currency() -> None:
    unconfirmed = MethodView("m", "mpesa", confirmed=False)
    got = plan_payout("w", Money("UGX", 100_000), unconfirmed, rules("UGX"), NOW)
    assert isinstance(got, Skipped) and got.reason is SkipReason.CURRENCY_NOT_PAID


def test_rules_for_one_provider_refuse_a_currency_it_does_not_pay() -> None:
    with pytest.raises(PayoutPlanError, match="mpesa pays KES only, not UGX"):
        rules("UGX", provider="mpesa")
    assert rules("KES", provider="mpesa").provider == "mpesa"
    assert rules("MWK", provider="csv:bank").provider == "csv:bank"


@pytest.mark.parametrize(
    ("provider", "currency", "named"),
    [("mpesa", "UGX", "KES"), ("mpesa", "ZMW", "KES"), ("mtn_momo", "KES", "EUR, UGX")],
)
def test_service_refuses_the_run_up_front(provider: str, currency: str, named: str) -> None:
    request = service.RunRequest(currency, provider=provider)
    with pytest.raises(service.CurrencyNotPaid) as refused:
        service.rules_for(request, PayoutSettings(), CURRENCIES)
    assert refused.value.status == 422 and named in refused.value.message


def test_posting_skips_an_unpaid_currency_and_posts_nothing() -> None:
    cipher = TokenCipher("k" * 40)
    uow = FakeUnitOfWork(payouts=FakePayoutRepository(workers={"w1"}))
    service.register_method(uow, "w1", "mpesa", "+254712345678", "Amina", cipher, now=NOW)  # type: ignore[arg-type]
    code = service.pending_code(uow, "w1", cipher)  # type: ignore[arg-type]
    assert code is not None
    service.confirm_method(uow, "w1", code, cipher, PayoutSettings(), now=NOW)  # type: ignore[arg-type]
    available = AccountRef(AccountKind.WORKER_AVAILABLE, "w1", "UGX")
    funded = entry(
        "fund:w1", TransactionKind.RELEASE_HOLD, Transfer(programme_funds("UGX"), available, 50_000)
    )
    uow.ledger.post(funded)
    got = service.post_worker_payout(uow, "b1", "w1", rules("UGX"), NOW)  # type: ignore[arg-type]
    assert got == Skipped("w1", SkipReason.CURRENCY_NOT_PAID, "mpesa pays KES only, not UGX")
    assert uow.payouts.payouts == []  # type: ignore[attr-defined]
    assert uow.ledger.balance(available) == 50_000


class NoClient:
    def fetch(self, *args: object, **kwargs: object) -> tuple[int, bytes]:
        raise AssertionError("nothing may be sent")


def order(currency: str, minor: int) -> PayoutOrder:
    return PayoutOrder("p1", "+256772123456", "A", Money(currency, minor), "r", "https://e/r", "")


def test_adapters_declare_their_currencies() -> None:
    mpesa = MpesaB2C("https://x", "k", "s", "c", "kazi", "600000", NoClient())
    momo = MtnMomoDisbursement(
        "https://x", "s", "u", "k", NoClient(), currencies=frozenset({"EUR"})
    )
    assert mpesa.currencies == frozenset({"KES"})
    assert momo.currencies == frozenset({"EUR"})
    assert CsvExport("csv:bank").currencies is None


def test_adapters_refuse_an_order_in_another_currency_without_sending() -> None:
    mpesa = MpesaB2C("https://x", "k", "s", "c", "kazi", "600000", NoClient())
    momo = MtnMomoDisbursement(
        "https://x", "s", "u", "k", NoClient(), currencies=frozenset({"EUR"})
    )
    for adapter, currency in ((mpesa, "UGX"), (momo, "UGX")):
        answer = adapter.send(order(currency, 10_000))
        assert answer.outcome is SendOutcome.REFUSED and answer.code == "currency_not_paid"
        assert answer.detail is not None and "not UGX" in answer.detail
    with pytest.raises(ValueError, match="KES only"):
        whole_amount(Money("UGX", 10_000))


def test_momo_currencies_come_from_the_settings() -> None:
    settings = PayoutSettings(momo_currencies=" EUR, UGX ")
    assert settings.momo_currency_set == frozenset({"EUR", "UGX"})
    registry = ProviderRegistry(Settings(), settings, client=NoClient())  # type: ignore[arg-type]
    assert registry.currencies() == {
        "mpesa": frozenset({"KES"}),
        "mtn_momo": settings.momo_currency_set,
    }
    default = PayoutSettings().momo_currency_set
    assert {"UGX", "GHS", "ZMW", "RWF", "XAF", "XOF", "EUR"} <= default and "KES" not in default


@pytest.mark.parametrize("bad", ["", " , ", "EUR,XYZ", "eur", "EURO"])
def test_momo_currencies_refuse_what_is_not_iso_4217(bad: str) -> None:
    with pytest.raises(ValidationError, match="KAZI_MOMO_CURRENCIES"):
        PayoutSettings(momo_currencies=bad)
