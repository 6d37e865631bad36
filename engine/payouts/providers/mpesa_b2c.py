"""M-Pesa B2C (Safaricom Daraja): pay a worker's M-Pesa number from the programme's shortcode.

Requests: an OAuth token (``GET /oauth/v1/generate?grant_type=client_credentials``, Basic auth
with the consumer key and secret), then ``POST /mpesa/b2c/v3/paymentrequest`` with
``OriginatorConversationID`` (the payout id: the idempotency key), ``InitiatorName``,
``SecurityCredential``, ``CommandID: BusinessPayment``, ``Amount`` (whole shillings),
``PartyA`` (the shortcode), ``PartyB`` (the MSISDN, digits without '+'), ``Remarks``,
``QueueTimeOutURL``, ``ResultURL`` and ``Occassion`` (Daraja's spelling). A synchronous
``ResponseCode`` "0" with a ``ConversationID`` means accepted; the result arrives later at
ResultURL (``parse_result``). Daraja has no synchronous status query: a payout whose request
got no answer is sent again with the same OriginatorConversationID. The request has no currency:
Daraja reads ``Amount`` as Kenyan shillings, so the adapter pays KES only.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.domain.money import Money, minor_unit_digits
from engine.domain.payout_plan import MPESA_CURRENCIES
from engine.payouts.providers import PayoutOrder, ProviderAnswer, SendOutcome, currency_refusal
from engine.payouts.providers.http import Fetcher, NoAnswer, call_json

NAME = "mpesa"
TOKEN_PATH = "/oauth/v1/generate?grant_type=client_credentials"
REMARKS_MAX = 100


class MpesaB2C:
    name = NAME
    currencies: frozenset[str] | None = MPESA_CURRENCIES

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        security_credential: str,
        initiator_name: str,
        shortcode: str,
        client: Fetcher,
        *,
        timeout: float = 15.0,
        b2c_path: str = "/mpesa/b2c/v3/paymentrequest",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._basic = base64.b64encode(f"{consumer_key}:{consumer_secret}".encode()).decode()
        self._credential = security_credential
        self._initiator = initiator_name
        self._shortcode = shortcode
        self._client = client
        self._timeout = timeout
        self._path = b2c_path
        self._token: tuple[str, float] | None = None

    def _access_token(self, *, fresh: bool = False) -> str:
        if self._token is not None and not fresh and time.monotonic() < self._token[1]:
            return self._token[0]
        status, body = call_json(
            self._client,
            "GET",
            self.base_url + TOKEN_PATH,
            {"Authorization": f"Basic {self._basic}"},
            self._timeout,
        )
        if status != 200 or not isinstance(body, dict) or not body.get("access_token"):
            raise NoAnswer(f"token request answered {status}")
        expires = (
            int(str(body.get("expires_in", "3599")))
            if str(body.get("expires_in", "")).isdigit()
            else 3599
        )
        self._token = (str(body["access_token"]), time.monotonic() + max(expires - 60, 1))
        return self._token[0]

    def request_body(self, order: PayoutOrder) -> dict[str, Any]:
        return {
            "OriginatorConversationID": order.payout_id,
            "InitiatorName": self._initiator,
            "SecurityCredential": self._credential,
            "CommandID": "BusinessPayment",
            "Amount": whole_amount(order.amount),
            "PartyA": self._shortcode,
            "PartyB": order.msisdn.removeprefix("+"),
            "Remarks": order.remarks[:REMARKS_MAX] or "payout",
            "QueueTimeOutURL": order.timeout_url,
            "ResultURL": order.result_url,
            "Occassion": order.payout_id[:100],
        }

    def send(self, order: PayoutOrder) -> ProviderAnswer:
        refused = currency_refusal(self, order)
        if refused is not None:
            return refused
        body = self.request_body(order)
        try:
            status, answer = self._post(body)
            if status == 401:  # an expired token: one fresh try
                status, answer = self._post(body, fresh=True)
        except NoAnswer as exc:
            return ProviderAnswer(SendOutcome.UNKNOWN, detail=str(exc))
        if not isinstance(answer, dict):
            return ProviderAnswer(SendOutcome.UNKNOWN, code=str(status), detail="no JSON answer")
        if status == 200 and str(answer.get("ResponseCode")) == "0":
            return ProviderAnswer(
                SendOutcome.ACCEPTED,
                reference=_text(answer.get("ConversationID")),
                code="0",
                detail=_text(answer.get("ResponseDescription")),
            )
        if 400 <= status < 500 or status == 200:
            code = answer.get("errorCode", answer.get("ResponseCode"))
            detail = answer.get("errorMessage", answer.get("ResponseDescription"))
            return ProviderAnswer(SendOutcome.REFUSED, code=_text(code), detail=_text(detail))
        return ProviderAnswer(SendOutcome.UNKNOWN, code=str(status), detail="provider error")

    def _post(self, body: dict[str, Any], *, fresh: bool = False) -> tuple[int, Any]:
        token = self._access_token(fresh=fresh)
        return call_json(
            self._client,
            "POST",
            self.base_url + self._path,
            {"Authorization": f"Bearer {token}"},
            self._timeout,
            body,
        )

    def status(self, payout_id: str, reference: str | None) -> ProviderAnswer | None:
        return None  # results arrive at ResultURL; an unanswered request is sent again


def whole_amount(amount: Money) -> int:
    if amount.currency not in MPESA_CURRENCIES:
        raise ValueError(f"M-Pesa B2C pays KES only, not {amount.currency}")
    unit = 10 ** minor_unit_digits(amount.currency)
    if amount.minor % unit:
        raise ValueError("M-Pesa B2C pays whole units only")
    return amount.minor // unit


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:500]


@dataclass(frozen=True)
class MpesaResult:
    originator_id: str
    conversation_id: str | None
    result_code: str
    result_desc: str
    transaction_id: str | None
    amount_whole: int | None  # ResultParameters TransactionAmount, when present

    @property
    def confirmed(self) -> bool:
        return self.result_code == "0"


class MalformedResult(ValueError):
    pass


def parse_result(body: Any) -> MpesaResult:
    """Daraja's result callback: ``{"Result": {"ResultType", "ResultCode", "ResultDesc",
    "OriginatorConversationID", "ConversationID", "TransactionID", "ResultParameters":
    {"ResultParameter": [{"Key", "Value"}, ...]}}}``."""
    result = body.get("Result") if isinstance(body, dict) else None
    if not isinstance(result, dict):
        raise MalformedResult("the body has no 'Result' object")
    originator = result.get("OriginatorConversationID")
    code = result.get("ResultCode")
    if not isinstance(originator, str) or not originator or len(originator) > 100:
        raise MalformedResult("'Result.OriginatorConversationID' must be a string")
    if isinstance(code, bool) or not isinstance(code, int | str):
        raise MalformedResult("'Result.ResultCode' must be a number or a string")
    amount: int | None = None
    parameters = result.get("ResultParameters")
    items = parameters.get("ResultParameter") if isinstance(parameters, dict) else None
    if isinstance(items, dict):
        items = [items]
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("Key") == "TransactionAmount":
            value = item.get("Value")
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise MalformedResult("TransactionAmount must be a whole number")
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                raise MalformedResult("TransactionAmount is not a number") from None
            if not number.is_finite() or number != number.to_integral_value():
                raise MalformedResult("TransactionAmount is not whole shillings")
            amount = int(number)
    return MpesaResult(
        originator_id=originator,
        conversation_id=_text(result.get("ConversationID")),
        result_code=str(code),
        result_desc=str(result.get("ResultDesc", ""))[:500],
        transaction_id=_text(result.get("TransactionID")),
        amount_whole=amount,
    )
