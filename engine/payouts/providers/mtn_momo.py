"""MTN MoMo disbursement: pay a worker's MoMo wallet.

``POST /disbursement/token/`` (Basic: API user and key, ``Ocp-Apim-Subscription-Key``) gives
an ``access_token``; ``POST /disbursement/v1_0/transfer`` with ``X-Reference-Id`` (the payout
id, a UUID: the idempotency key), ``X-Target-Environment``, ``X-Callback-Url`` and the body
``{amount (string), currency, externalId, payee {partyIdType: MSISDN, partyId}, payerMessage,
payeeNote}`` answers 202 (accepted) or 409 when the reference was used already (the first
request arrived: treated as accepted, and its status asked). ``GET
/disbursement/v1_0/transfer/{referenceId}`` answers ``{status: SUCCESSFUL | FAILED | PENDING,
financialTransactionId, reason}``; 404 means the provider never got the request. A MoMo
account pays its market's currency (the sandbox: EUR); ``currencies`` is KAZI_MOMO_CURRENCIES.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from engine.domain.money import Money, MoneyError, parse_amount
from engine.domain.payout_plan import DEFAULT_MOMO_CURRENCIES
from engine.payouts.providers import PayoutOrder, ProviderAnswer, SendOutcome, currency_refusal
from engine.payouts.providers.http import Fetcher, NoAnswer, call_json

NAME = "mtn_momo"
MESSAGE_MAX = 160


class MtnMomoDisbursement:
    name = NAME

    def __init__(
        self,
        base_url: str,
        subscription_key: str,
        api_user: str,
        api_key: str,
        client: Fetcher,
        *,
        target_environment: str = "sandbox",
        timeout: float = 15.0,
        currencies: frozenset[str] = DEFAULT_MOMO_CURRENCIES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.currencies: frozenset[str] | None = currencies
        self._subscription = subscription_key
        self._basic = base64.b64encode(f"{api_user}:{api_key}".encode()).decode()
        self._environment = target_environment
        self._client = client
        self._timeout = timeout
        self._token: tuple[str, float] | None = None

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "X-Target-Environment": self._environment,
            "Ocp-Apim-Subscription-Key": self._subscription,
        }

    def _access_token(self, *, fresh: bool = False) -> str:
        if self._token is not None and not fresh and time.monotonic() < self._token[1]:
            return self._token[0]
        status, body = call_json(
            self._client,
            "POST",
            self.base_url + "/disbursement/token/",
            {
                "Authorization": f"Basic {self._basic}",
                "Ocp-Apim-Subscription-Key": self._subscription,
            },
            self._timeout,
        )
        if status != 200 or not isinstance(body, dict) or not body.get("access_token"):
            raise NoAnswer(f"token request answered {status}")
        given = str(body.get("expires_in", ""))
        expires = int(given) if given.isdigit() else 3600
        self._token = (str(body["access_token"]), time.monotonic() + max(expires - 60, 1))
        return self._token[0]

    def request_body(self, order: PayoutOrder) -> dict[str, Any]:
        return {
            "amount": order.amount.major_text(),
            "currency": order.amount.currency,
            "externalId": order.payout_id,
            "payee": {"partyIdType": "MSISDN", "partyId": order.msisdn.removeprefix("+")},
            "payerMessage": order.remarks[:MESSAGE_MAX] or "payout",
            "payeeNote": order.remarks[:MESSAGE_MAX] or "payout",
        }

    def send(self, order: PayoutOrder) -> ProviderAnswer:
        refused = currency_refusal(self, order)
        if refused is not None:
            return refused
        try:
            token = self._access_token()
            headers = {
                **self._headers(token),
                "X-Reference-Id": order.payout_id,
                "X-Callback-Url": order.result_url,
            }
            status, answer = call_json(
                self._client,
                "POST",
                self.base_url + "/disbursement/v1_0/transfer",
                headers,
                self._timeout,
                self.request_body(order),
            )
        except NoAnswer as exc:
            return ProviderAnswer(SendOutcome.UNKNOWN, detail=str(exc))
        if status in (202, 409):
            # 409: this reference was taken already, so the first request arrived.
            return ProviderAnswer(SendOutcome.ACCEPTED, reference=order.payout_id, code=str(status))
        if status in (400, 404) or status == 403:
            detail = answer.get("message") if isinstance(answer, dict) else None
            code = answer.get("code") if isinstance(answer, dict) else None
            return ProviderAnswer(
                SendOutcome.REFUSED, code=str(code or status), detail=_text(detail)
            )
        return ProviderAnswer(SendOutcome.UNKNOWN, code=str(status), detail="provider error")

    def status(self, payout_id: str, reference: str | None) -> ProviderAnswer | None:
        try:
            token = self._access_token()
            status, answer = call_json(
                self._client,
                "GET",
                f"{self.base_url}/disbursement/v1_0/transfer/{reference or payout_id}",
                self._headers(token),
                self._timeout,
            )
        except NoAnswer as exc:
            return ProviderAnswer(SendOutcome.UNKNOWN, detail=str(exc))
        if status == 404:
            return ProviderAnswer(SendOutcome.UNKNOWN, code="404", detail="not received")
        if status != 200 or not isinstance(answer, dict):
            return ProviderAnswer(SendOutcome.UNKNOWN, code=str(status), detail="no status")
        return answer_of_status(parse_status(answer))


@dataclass(frozen=True)
class MomoStatus:
    status: str  # SUCCESSFUL | FAILED | PENDING
    external_id: str | None
    transaction_id: str | None
    reason: str | None
    amount: str | None
    currency: str | None


class MalformedStatus(ValueError):
    pass


def parse_status(body: Any) -> MomoStatus:
    """A transfer's status, from ``GET /transfer/{id}`` or the callback (the same shape)."""
    if not isinstance(body, dict):
        raise MalformedStatus("the body is not a JSON object")
    status = body.get("status")
    if status not in ("SUCCESSFUL", "FAILED", "PENDING"):
        raise MalformedStatus("'status' must be SUCCESSFUL, FAILED or PENDING")
    reason = body.get("reason")
    if isinstance(reason, dict):  # older API versions: {"code", "message"}
        reason = reason.get("code") or reason.get("message")
    amount = body.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, str | int)):
        raise MalformedStatus("'amount' must be a decimal string")
    return MomoStatus(
        status=status,
        external_id=_text(body.get("externalId")),
        transaction_id=_text(body.get("financialTransactionId")),
        reason=_text(reason),
        amount=None if amount is None else str(amount),
        currency=_text(body.get("currency")),
    )


def answer_of_status(status: MomoStatus) -> ProviderAnswer:
    outcome = {
        "SUCCESSFUL": SendOutcome.CONFIRMED,
        "FAILED": SendOutcome.FAILED,
        "PENDING": SendOutcome.PENDING,
    }[status.status]
    return ProviderAnswer(
        outcome, transaction_id=status.transaction_id, code=status.status, detail=status.reason
    )


def amount_matches(status: MomoStatus, net: Money) -> bool:
    """A result must be for the amount sent (when it says one)."""
    if status.currency is not None and status.currency != net.currency:
        return False
    if status.amount is None:
        return True
    try:
        return parse_amount(status.amount, net.currency) == net
    except MoneyError:
        return False


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:500]
