"""Who is paid what in a payout run, and the ledger entries that move it (pure).

A worker is paid when their balance is at least the run's minimum and they have a confirmed
payout method whose change-hold is over. The benefits share (basis points of the balance,
``Money.share``) goes to their benefits account and the rest, the net, to the provider's
in-transit account; with a match, the programme adds ``match_bps`` of that share. Providers
that take whole major units only (M-Pesa B2C: whole shillings) get the net rounded down; the
cents left stay in the worker's available balance for the next run. A provider pays only its
currencies (M-Pesa B2C: KES; MTN MoMo: its markets'): a worker whose method's provider cannot
pay the run's currency is skipped, never paid an amount the provider would read as another
currency.

A benefits withdrawal is a payout from the benefits account: no share, no match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import phonenumbers

from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    JournalEntry,
    TransactionKind,
    Transfer,
    benefits_match_key,
    cash,
    entry,
    payout_key,
    payout_result_key,
)
from engine.domain.money import Money, minor_unit_digits

BPS = 10_000
PROGRAMME_OWNER = "programme"  # the one programme of a deployment (no programme table yet)
CSV_LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,30}$")
MAX_ACCOUNT_NAME = 200


class PayoutSource(StrEnum):
    AVAILABLE = "available"  # earnings
    BENEFITS = "benefits"  # a benefits withdrawal

    @property
    def account_kind(self) -> AccountKind:
        if self is PayoutSource.BENEFITS:
            return AccountKind.WORKER_BENEFITS
        return AccountKind.WORKER_AVAILABLE


class PayoutPlanError(ValueError):
    """A method, provider or rule the payout path cannot take."""


# -- providers and methods ------------------------------------------------------------------

MPESA = "mpesa"
MTN_MOMO = "mtn_momo"
API_PROVIDERS = frozenset({MPESA, MTN_MOMO})
# Providers that take whole major units only.
WHOLE_UNIT_PROVIDERS = frozenset({MPESA})
# Safaricom Daraja B2C: the Amount is Kenyan shillings, whatever the engine meant.
MPESA_CURRENCIES = frozenset({"KES"})
# MTN MoMo disbursement markets (the request carries the currency), and EUR: the sandbox's.
DEFAULT_MOMO_CURRENCIES = frozenset(
    {"UGX", "GHS", "ZMW", "RWF", "XAF", "XOF", "GNF", "LRD", "SZL", "EUR"}
)
# What a run checks when it is told nothing else: a provider not named pays any currency
# (a CSV export is paid by whoever takes the file).
DEFAULT_PROVIDER_CURRENCIES: Mapping[str, frozenset[str]] = {MPESA: MPESA_CURRENCIES}


def check_provider(provider: str) -> str:
    """``mpesa``, ``mtn_momo`` or ``csv:<label>`` (a provider paid from an exported file)."""
    if provider in API_PROVIDERS:
        return provider
    if provider.startswith("csv:") and CSV_LABEL.match(provider.removeprefix("csv:")):
        return provider
    raise PayoutPlanError(
        "provider must be 'mpesa', 'mtn_momo' or 'csv:<label>' (label: 1-31 lower-case letters, "
        "digits, '_' or '-')"
    )


def is_csv_provider(provider: str) -> bool:
    return provider.startswith("csv:")


def provider_pays(provider: str, currency: str, currencies: Mapping[str, frozenset[str]]) -> bool:
    paid = currencies.get(provider)
    return paid is None or currency in paid


def not_paid_reason(provider: str, currency: str, currencies: Mapping[str, frozenset[str]]) -> str:
    """``mpesa pays KES only, not UGX``: what a person reads in the run report or the error."""
    paid = sorted(currencies.get(provider, ()))
    which = f"{paid[0]} only" if len(paid) == 1 else ", ".join(paid) or "no currency"
    return f"{provider} pays {which}, not {currency}"


def check_provider_pays(
    provider: str, currency: str, currencies: Mapping[str, frozenset[str]]
) -> None:
    if not provider_pays(provider, currency, currencies):
        raise PayoutPlanError(not_paid_reason(provider, currency, currencies))


def normalise_msisdn(number: str, default_region: str | None = None) -> str:
    """A mobile number as E.164 (``+254712345678``); refuses what is not a valid number.
    Without a country code ``default_region`` (ISO 3166 alpha-2, e.g. "KE") says whose it is."""
    if not isinstance(number, str) or not number.strip() or len(number) > 32:
        raise PayoutPlanError("msisdn must be a phone number of at most 32 characters")
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException:
        raise PayoutPlanError(
            "msisdn is not a phone number (give it in international form, e.g. +254712345678)"
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise PayoutPlanError("msisdn is not a valid phone number for its country")
    kind = phonenumbers.number_type(parsed)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise PayoutPlanError("msisdn must be a mobile number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask_msisdn(e164: str) -> str:
    """``+254712345678`` → ``+2547•••••678``: enough for a person to recognise their number."""
    if len(e164) <= 8:
        return e164[:2] + "•" * max(len(e164) - 2, 0)
    return e164[:5] + "•" * (len(e164) - 8) + e164[-3:]


def check_account_name(name: str) -> str:
    cleaned = " ".join(name.split()) if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > MAX_ACCOUNT_NAME:
        raise PayoutPlanError(f"account name must be 1-{MAX_ACCOUNT_NAME} characters")
    if any(ord(c) < 32 for c in cleaned):
        raise PayoutPlanError("account name must not hold control characters")
    return cleaned


# Confirmation codes: 6 digits, a few tries, a short life.
CODE_DIGITS = 6
CODE_MAX_ATTEMPTS = 5
CODE_LIFETIME_MINUTES = 30


def check_code_format(code: str) -> str:
    if not isinstance(code, str) or len(code) != CODE_DIGITS or not code.isdigit():
        raise PayoutPlanError(f"a confirmation code is {CODE_DIGITS} digits")
    return code


# -- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodView:
    method_id: str
    provider: str
    confirmed: bool
    hold_until: datetime | None = None


@dataclass(frozen=True)
class PayoutRules:
    min_amount: Money  # pay only balances at least this
    share_bps: int = 0  # of the balance, to benefits
    match_bps: int = 0  # of the share, from the programme, to benefits
    provider: str | None = None  # only workers whose method uses this provider
    source: PayoutSource = PayoutSource.AVAILABLE
    # provider -> the currencies it pays; a provider not named pays any.
    currencies: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: dict(DEFAULT_PROVIDER_CURRENCIES), hash=False
    )

    def __post_init__(self) -> None:
        for name in ("share_bps", "match_bps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= BPS:
                raise PayoutPlanError(f"{name} must be a whole number from 0 to {BPS}")
        if self.min_amount.minor < 0:
            raise PayoutPlanError("the minimum amount must not be negative")
        if self.provider is not None:
            check_provider(self.provider)
            # A run for one provider in a currency it does not pay would skip everyone.
            check_provider_pays(self.provider, self.min_amount.currency, self.currencies)


@dataclass(frozen=True)
class PlannedPayout:
    worker_id: str
    method_id: str
    provider: str
    source: PayoutSource
    gross: Money  # what leaves the source account
    net: Money  # what the provider pays out
    benefits: Money  # the worker's share saved
    match: Money  # the programme's match, to benefits

    @property
    def currency(self) -> str:
        return self.gross.currency


class SkipReason(StrEnum):
    BELOW_MINIMUM = "below_minimum"
    NO_METHOD = "no_method"
    UNCONFIRMED_METHOD = "unconfirmed_method"
    METHOD_HELD = "method_change_hold"
    OTHER_PROVIDER = "other_provider"
    CURRENCY_NOT_PAID = "currency_not_paid"  # the method's provider does not pay this currency
    NOTHING_PAYABLE = "nothing_payable"


@dataclass(frozen=True)
class Skipped:
    worker_id: str
    reason: SkipReason
    detail: str = ""  # for a person, when the reason alone does not say enough


def whole_units_down(amount: Money) -> Money:
    unit = 10 ** minor_unit_digits(amount.currency)
    return Money(amount.currency, amount.minor - amount.minor % unit)


def plan_payout(
    worker_id: str,
    balance: Money,
    method: MethodView | None,
    rules: PayoutRules,
    now: datetime,
) -> PlannedPayout | Skipped:
    """One worker's payout under ``rules``, or why there is none."""
    if balance.currency != rules.min_amount.currency:
        raise PayoutPlanError("the balance and the minimum are in different currencies")
    if method is None:
        return Skipped(worker_id, SkipReason.NO_METHOD)
    if rules.provider is not None and method.provider != rules.provider:
        return Skipped(worker_id, SkipReason.OTHER_PROVIDER)
    if not provider_pays(method.provider, balance.currency, rules.currencies):
        detail = not_paid_reason(method.provider, balance.currency, rules.currencies)
        return Skipped(worker_id, SkipReason.CURRENCY_NOT_PAID, detail)
    if not method.confirmed:
        return Skipped(worker_id, SkipReason.UNCONFIRMED_METHOD)
    if method.hold_until is not None and now < method.hold_until:
        return Skipped(worker_id, SkipReason.METHOD_HELD)
    if balance.minor <= 0 or balance.minor < rules.min_amount.minor:
        return Skipped(worker_id, SkipReason.BELOW_MINIMUM)
    saving = rules.source is PayoutSource.AVAILABLE
    share = balance.share(rules.share_bps, BPS) if saving else Money.zero(balance.currency)
    net = balance - share
    if method.provider in WHOLE_UNIT_PROVIDERS:
        net = whole_units_down(net)
    if net.minor <= 0:
        return Skipped(worker_id, SkipReason.NOTHING_PAYABLE)
    match = share.share(rules.match_bps, BPS) if saving else Money.zero(balance.currency)
    return PlannedPayout(
        worker_id=worker_id,
        method_id=method.method_id,
        provider=method.provider,
        source=rules.source,
        gross=net + share,
        net=net,
        benefits=share,
        match=match,
    )


# -- ledger entries ------------------------------------------------------------------------


def in_transit(provider: str, currency: str) -> AccountRef:
    return AccountRef(AccountKind.PROVIDER_IN_TRANSIT, provider, currency)


def source_account(worker_id: str, source: PayoutSource, currency: str) -> AccountRef:
    return AccountRef(source.account_kind, worker_id, currency)


def benefits_account(worker_id: str, currency: str) -> AccountRef:
    return AccountRef(AccountKind.WORKER_BENEFITS, worker_id, currency)


def programme_funds(currency: str) -> AccountRef:
    return AccountRef(AccountKind.PROGRAMME_FUNDS, PROGRAMME_OWNER, currency)


def payout_entry(batch_id: str, payout_id: str, plan: PlannedPayout) -> JournalEntry:
    """``payout:<batch>:<worker>``: the net to the provider in transit, the share to benefits."""
    source = source_account(plan.worker_id, plan.source, plan.currency)
    transfers = [Transfer(source, in_transit(plan.provider, plan.currency), plan.net.minor)]
    if plan.benefits.minor > 0:
        transfers.append(
            Transfer(source, benefits_account(plan.worker_id, plan.currency), plan.benefits.minor)
        )
    return entry(
        payout_key(batch_id, plan.worker_id),
        TransactionKind.PAYOUT,
        *transfers,
        memo=f"payout {payout_id} via {plan.provider}",
        cause={"payout_id": payout_id, "batch_id": batch_id, "source": plan.source.value},
    )


def match_entry(batch_id: str, payout_id: str, plan: PlannedPayout) -> JournalEntry | None:
    if plan.match.minor <= 0:
        return None
    return entry(
        benefits_match_key(batch_id, plan.worker_id),
        TransactionKind.BENEFITS_MATCH,
        Transfer(
            programme_funds(plan.currency),
            benefits_account(plan.worker_id, plan.currency),
            plan.match.minor,
        ),
        memo=f"programme match of the benefits share of payout {payout_id}",
        cause={"payout_id": payout_id, "batch_id": batch_id},
    )


def result_entry(
    payout_id: str,
    worker_id: str,
    provider: str,
    source: PayoutSource,
    net: Money,
    confirmed: bool,
) -> JournalEntry:
    """``payout-result:<payout id>``: confirmed, in transit → cash; failed, the net back to the
    source account. The benefits share stays saved either way (it never left the engine)."""
    transit = in_transit(provider, net.currency)
    if confirmed:
        transfer = Transfer(transit, cash(net.currency), net.minor)
        kind = TransactionKind.PAYOUT_CONFIRMED
    else:
        transfer = Transfer(transit, source_account(worker_id, source, net.currency), net.minor)
        kind = TransactionKind.PAYOUT_FAILED
    return entry(
        payout_result_key(payout_id),
        kind,
        transfer,
        memo=f"payout {payout_id} {'confirmed' if confirmed else 'failed'}",
        cause={"payout_id": payout_id},
    )
