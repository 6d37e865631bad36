"""Who is paid what: minimum, confirmed and unheld method, benefits share and match, whole
units for M-Pesa; the payout and result entries balance and use the design's keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.domain.ledger import AccountKind, AccountRef, TransactionKind, apply_entry
from engine.domain.money import Money, minor_unit_digits
from engine.domain.payout_plan import (
    MethodView,
    PayoutPlanError,
    PayoutRules,
    PayoutSource,
    PlannedPayout,
    Skipped,
    SkipReason,
    check_account_name,
    check_code_format,
    check_provider,
    mask_msisdn,
    match_entry,
    normalise_msisdn,
    payout_entry,
    plan_payout,
    result_entry,
)

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
MPESA = MethodView("m1", "mpesa", confirmed=True)
MOMO = MethodView("m2", "mtn_momo", confirmed=True)


def rules(minimum: int = 0, share: int = 500, match: int = 0, **kw: object) -> PayoutRules:
    return PayoutRules(Money("KES", minimum), share, match, **kw)  # type: ignore[arg-type]


def test_share_net_and_whole_shillings_for_mpesa() -> None:
    plan = plan_payout("w", Money("KES", 12_345), MPESA, rules(), NOW)
    assert isinstance(plan, PlannedPayout)
    # share: 5 % of 123.45 = 6.1725 -> 6.17; net 117.28 -> whole 117.00; 0.28 stays available
    assert plan.benefits == Money("KES", 617)
    assert plan.net == Money("KES", 11_700)
    assert plan.gross == Money("KES", 12_317)


def test_momo_keeps_cents() -> None:
    plan = plan_payout("w", Money("KES", 12_345), MOMO, rules(), NOW)
    assert isinstance(plan, PlannedPayout)
    assert plan.net == Money("KES", 12_345 - 617) and plan.gross == Money("KES", 12_345)


@pytest.mark.parametrize(
    ("balance", "method", "kw", "reason"),
    [
        (9_999, MPESA, {"minimum": 10_000}, SkipReason.BELOW_MINIMUM),
        (0, MPESA, {}, SkipReason.BELOW_MINIMUM),
        (10_000, None, {}, SkipReason.NO_METHOD),
        (10_000, MethodView("m", "mpesa", confirmed=False), {}, SkipReason.UNCONFIRMED_METHOD),
        (
            10_000,
            MethodView("m", "mpesa", True, hold_until=NOW + timedelta(seconds=1)),
            {},
            SkipReason.METHOD_HELD,
        ),
        (10_000, MOMO, {"provider": "mpesa"}, SkipReason.OTHER_PROVIDER),
        (50, MPESA, {}, SkipReason.NOTHING_PAYABLE),  # KES 0.50: no whole shilling to send
    ],
)
def test_skips(balance: int, method: MethodView | None, kw: dict, reason: SkipReason) -> None:
    minimum = kw.pop("minimum", 0)
    got = plan_payout("w", Money("KES", balance), method, rules(minimum, **kw), NOW)
    assert got == Skipped("w", reason)


def test_hold_over_pays() -> None:
    held = MethodView("m", "mpesa", True, hold_until=NOW)
    assert isinstance(plan_payout("w", Money("KES", 10_000), held, rules(), NOW), PlannedPayout)


def test_benefits_withdrawal_has_no_share_or_match() -> None:
    plan = plan_payout(
        "w",
        Money("KES", 10_000),
        MOMO,
        rules(share=500, match=10_000, source=PayoutSource.BENEFITS),
        NOW,
    )
    assert isinstance(plan, PlannedPayout)
    assert plan.benefits.minor == 0 and plan.match.minor == 0 and plan.net.minor == 10_000
    entry = payout_entry("b", "p", plan)
    assert entry.transfers[0].debit.kind is AccountKind.WORKER_BENEFITS


def test_entries_balance_and_keys() -> None:
    plan = plan_payout("w1", Money("KES", 100_000), MPESA, rules(match=5_000), NOW)
    assert isinstance(plan, PlannedPayout)
    posted = payout_entry("batch1", "pay1", plan)
    assert posted.idempotency_key == "payout:batch1:w1"
    assert posted.kind is TransactionKind.PAYOUT
    matched = match_entry("batch1", "pay1", plan)
    assert matched is not None and matched.idempotency_key == "benefits-match:batch1:w1"
    assert matched.transfers[0].amount == plan.benefits.minor // 2
    available = AccountRef(AccountKind.WORKER_AVAILABLE, "w1", "KES")
    after = apply_entry({available: 100_000}, posted)
    assert after[available] == 0
    ok = result_entry("pay1", "w1", "mpesa", PayoutSource.AVAILABLE, plan.net, True)
    failed = result_entry("pay1", "w1", "mpesa", PayoutSource.AVAILABLE, plan.net, False)
    assert ok.idempotency_key == failed.idempotency_key == "payout-result:pay1"
    back = apply_entry(after, failed)
    assert back[available] == plan.net.minor  # the net is back, the share stays saved
    settled = apply_entry(after, ok)
    assert all(v == 0 for k, v in settled.items() if k.kind is AccountKind.PROVIDER_IN_TRANSIT)


@pytest.mark.parametrize(
    ("given", "region", "e164"),
    [
        ("+254712345678", None, "+254712345678"),
        ("0712 345 678", "KE", "+254712345678"),
        ("+256 772 123456", None, "+256772123456"),
    ],
)
def test_msisdn_normalised(given: str, region: str | None, e164: str) -> None:
    assert normalise_msisdn(given, region) == e164


@pytest.mark.parametrize(
    "bad",
    ["", "12", "not a number", "0712345678", "+2547123456789999", "+254 20 2222222", "x" * 40],
)
def test_msisdn_refused(bad: str) -> None:
    with pytest.raises(PayoutPlanError):
        normalise_msisdn(bad)


def test_mask() -> None:
    assert mask_msisdn("+254712345678") == "+2547•••••678"


@pytest.mark.parametrize("bad", ["", "paypal", "csv:", "csv:Bad Label", "MPESA", "csv:" + "a" * 40])
def test_provider_refused(bad: str) -> None:
    with pytest.raises(PayoutPlanError):
        check_provider(bad)


def test_provider_ok() -> None:
    assert check_provider("csv:equity-bank") == "csv:equity-bank"


@pytest.mark.parametrize("bad", ["12345", "1234567", "12a456", "", " 123456"])
def test_code_format(bad: str) -> None:
    with pytest.raises(PayoutPlanError):
        check_code_format(bad)


@pytest.mark.parametrize("bad", ["", "   ", "a" * 201, "x\x00y"])
def test_account_name_refused(bad: str) -> None:
    with pytest.raises(PayoutPlanError):
        check_account_name(bad)


@pytest.mark.parametrize("bps", [-1, 10_001, True])
def test_rules_refuse_bad_bps(bps: int) -> None:
    with pytest.raises(PayoutPlanError):
        PayoutRules(Money("KES", 0), share_bps=bps)


@given(
    balance=st.integers(min_value=0, max_value=10**12),
    minimum=st.integers(min_value=0, max_value=10**6),
    share=st.integers(min_value=0, max_value=10_000),
    match=st.integers(min_value=0, max_value=10_000),
    provider=st.sampled_from(["mpesa", "mtn_momo", "csv:bank"]),
    currency=st.sampled_from(["KES", "UGX", "JOD"]),
)
def test_plan_invariants(
    balance: int, minimum: int, share: int, match: int, provider: str, currency: str
) -> None:
    method = MethodView("m", provider, confirmed=True)
    rules_ = PayoutRules(Money(currency, minimum), share, match)
    plan = plan_payout("w", Money(currency, balance), method, rules_, NOW)
    if provider == "mpesa" and currency != "KES":
        assert plan == Skipped(
            "w", SkipReason.CURRENCY_NOT_PAID, f"mpesa pays KES only, not {currency}"
        )
        return
    if isinstance(plan, Skipped):
        assert balance < max(minimum, 1) or plan.reason is SkipReason.NOTHING_PAYABLE
        return
    assert plan.gross == plan.net + plan.benefits and plan.gross.minor <= balance
    assert plan.net.minor > 0 and plan.benefits.minor >= 0 and plan.match.minor >= 0
    unit = 10 ** minor_unit_digits(currency)
    left = balance - plan.gross.minor
    assert left == 0 or (provider == "mpesa" and left < unit)
    if provider == "mpesa":
        assert plan.net.minor % unit == 0
    posted = payout_entry("b", "p", plan)
    assert sum(t.amount for t in posted.transfers) == plan.gross.minor
