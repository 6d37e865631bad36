"""The payout provider port: send one payout, ask for its status.

An adapter never decides what the ledger does: it reports what the provider said. ``send``
answers ACCEPTED (the provider took the request; a result will follow), REFUSED (the provider
said no at once: nothing was paid), UNKNOWN (no usable answer: timeout, 5xx, garbage; the
request may or may not have arrived, so it is sent again later with the same idempotency key)
or, for adapters that know at once, CONFIRMED / FAILED. The idempotency key is the payout id
(M-Pesa ``OriginatorConversationID``, MoMo ``X-Reference-Id``): a resend can never pay twice.
Each adapter declares the currencies it pays (``currencies``; None: any); an order in another
currency is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from engine.domain.money import Money
from engine.errors import KaziError


class SendOutcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNKNOWN = "unknown"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    PENDING = "pending"  # status only: still being processed


@dataclass(frozen=True)
class PayoutOrder:
    payout_id: str  # the idempotency key the provider gets
    msisdn: str  # E.164, in clear: only adapters see it
    account_name: str
    amount: Money  # the net
    remarks: str
    result_url: str  # where the provider posts the result (per-payout capability URL)
    timeout_url: str


@dataclass(frozen=True)
class ProviderAnswer:
    outcome: SendOutcome
    reference: str | None = None  # the provider's id (ConversationID, ...)
    transaction_id: str | None = None
    code: str | None = None
    detail: str | None = None


class PayoutProvider(Protocol):
    name: str
    currencies: frozenset[str] | None  # what it pays; None: any currency

    def send(self, order: PayoutOrder) -> ProviderAnswer: ...

    def status(self, payout_id: str, reference: str | None) -> ProviderAnswer | None:
        """What the provider says now; None when it has no status query (results arrive by
        callback only)."""
        ...


class ProviderSource(Protocol):
    """Adapters by provider name (``engine.payouts.providers.registry.ProviderRegistry``)."""

    def __call__(self, name: str) -> PayoutProvider: ...

    def currencies(self) -> Mapping[str, frozenset[str]]:
        """Provider -> the currencies it pays, known without building (or configuring) the
        adapter; a provider not named pays any."""
        ...


def currency_refusal(provider: PayoutProvider, order: PayoutOrder) -> ProviderAnswer | None:
    """A REFUSED answer for an order in a currency the provider does not pay (nothing sent)."""
    paid = provider.currencies
    if paid is None or order.amount.currency in paid:
        return None
    return ProviderAnswer(
        SendOutcome.REFUSED,
        code="currency_not_paid",
        detail=f"{provider.name} pays {', '.join(sorted(paid))} only, not {order.amount.currency}",
    )


class ProviderNotConfigured(KaziError):
    status = 422
    code = "provider_not_configured"
