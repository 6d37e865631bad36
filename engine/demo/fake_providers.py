"""Local fake payout providers: M-Pesa Daraja (B2C) and MTN MoMo (disbursement).

They speak the documented request and response shapes (see engine/payouts/providers/), keep
what they "paid", and never pay one idempotency key twice, like the real services promise.
Results are not pushed on their own by default: each result the provider would post is queued
(``pending_callbacks``) for the test or the demo to deliver (``deliver``, with any HTTP
client), so a test can drop, repeat or reorder them. ``auto_deliver=True`` posts them at once.

Fault knobs: ``hang_seconds`` (the next N requests answer only after a pause: a client timeout),
``fail_msisdns`` (payments to these numbers fail in the result), ``keep_pending`` (MoMo
transfers stay PENDING until ``settle_pending``).

    with FakeProviders() as fake:            # a free loopback port, in a thread
        fake.base_url                        # http://127.0.0.1:<port>
        fake.credentials                     # what to set KAZI_MPESA_* / KAZI_MOMO_* to
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from engine.payouts.payout_settings import PayoutSettings


@dataclass
class FakeCallback:
    url: str
    body: dict[str, Any]


@dataclass
class FakePayment:
    provider: str
    key: str  # OriginatorConversationID / X-Reference-Id
    msisdn: str
    amount: str
    currency: str
    provider_id: str  # ConversationID / financialTransactionId
    status: str  # SUCCESSFUL | FAILED | PENDING
    requests: int = 1  # how many times the same key was sent


@dataclass
class FakeCredentials:
    mpesa_consumer_key: str = field(default_factory=lambda: secrets.token_hex(8))
    mpesa_consumer_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    mpesa_security_credential: str = field(default_factory=lambda: secrets.token_hex(16))
    momo_subscription_key: str = field(default_factory=lambda: secrets.token_hex(16))
    momo_api_user: str = field(default_factory=lambda: str(uuid.uuid4()))
    momo_api_key: str = field(default_factory=lambda: secrets.token_hex(16))


class FakeProviders:
    def __init__(self, *, auto_deliver: bool = False, host: str = "127.0.0.1") -> None:
        self.credentials = FakeCredentials()
        self.auto_deliver = auto_deliver
        self.lock = threading.Lock()
        self.payments: dict[tuple[str, str], FakePayment] = {}
        self.pending_callbacks: list[FakeCallback] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) seen
        self.fail_msisdns: set[str] = set()
        self.keep_pending = False
        self.hang_requests = 0
        self.hang_seconds = 0.0
        self._tokens: set[str] = set()
        self._momo_callbacks: dict[str, str] = {}
        self._server = ThreadingHTTPServer((host, 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeProviders:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def settings_env(self) -> dict[str, str]:
        """The KAZI_* variables that point the engine at this fake."""
        c = self.credentials
        return {
            "KAZI_MPESA_BASE_URL": self.base_url,
            "KAZI_MPESA_CONSUMER_KEY": c.mpesa_consumer_key,
            "KAZI_MPESA_CONSUMER_SECRET": c.mpesa_consumer_secret,
            "KAZI_MPESA_SECURITY_CREDENTIAL": c.mpesa_security_credential,
            "KAZI_MOMO_BASE_URL": self.base_url,
            "KAZI_MOMO_SUBSCRIPTION_KEY": c.momo_subscription_key,
            "KAZI_MOMO_API_USER": c.momo_api_user,
            "KAZI_MOMO_API_KEY": c.momo_api_key,
        }

    def payout_settings(self, **overrides: Any) -> PayoutSettings:
        """Payout settings whose providers are this fake (the demo's and the tests')."""
        return PayoutSettings(**{**_settings_fields(self.settings_env()), **overrides})

    def deliver_via(self, client: Any) -> list[Any]:
        """Post the queued results through ``client.post(path, json=...)`` (a FastAPI
        TestClient, or an httpx.Client whose base_url is the engine); the answers."""
        return [client.post(urlsplit(c.url).path, json=c.body) for c in self.take_callbacks()]

    def hang_next(self, requests: int, seconds: float) -> None:
        """The next ``requests`` payment requests are processed, but answered only after
        ``seconds`` (a client with a shorter timeout sees no answer)."""
        self.hang_requests, self.hang_seconds = requests, seconds

    # what was paid ------------------------------------------------------------------------
    def paid(self, provider: str | None = None) -> list[FakePayment]:
        with self.lock:
            return [
                p
                for p in self.payments.values()
                if p.status == "SUCCESSFUL" and (provider is None or p.provider == provider)
            ]

    def payment(self, provider: str, key: str) -> FakePayment | None:
        with self.lock:
            return self.payments.get((provider, key))

    # callbacks ----------------------------------------------------------------------------
    def take_callbacks(self) -> list[FakeCallback]:
        with self.lock:
            taken, self.pending_callbacks = self.pending_callbacks, []
        return taken

    def deliver(self, callbacks: list[FakeCallback] | None = None) -> list[int]:
        """POST queued results to their URLs (a real HTTP server); the statuses."""
        statuses = []
        for callback in callbacks if callbacks is not None else self.take_callbacks():
            response = httpx.post(callback.url, json=callback.body, timeout=10)
            statuses.append(response.status_code)
        return statuses

    def settle_pending(self) -> None:
        """MoMo transfers kept PENDING now succeed (or fail for ``fail_msisdns``)."""
        with self.lock:
            for p in self.payments.values():
                if p.provider == "mtn_momo" and p.status == "PENDING":
                    p.status = "FAILED" if p.msisdn in self.fail_msisdns else "SUCCESSFUL"
                    self._queue_momo(p)

    def _queue(self, callback: FakeCallback) -> None:
        self.pending_callbacks.append(callback)
        if self.auto_deliver:
            threading.Thread(target=self._post_later, args=(callback,), daemon=True).start()

    def _post_later(self, callback: FakeCallback) -> None:
        time.sleep(0.05)
        try:
            httpx.post(callback.url, json=callback.body, timeout=10)
            with self.lock:
                if callback in self.pending_callbacks:
                    self.pending_callbacks.remove(callback)
        except httpx.HTTPError:
            pass  # stays queued

    def _queue_momo(self, p: FakePayment) -> None:
        url = self._momo_callbacks.get(p.key)
        if url:
            self._queue(FakeCallback(url, momo_status_body(p)))

    def _hang(self) -> None:
        with self.lock:
            hang = self.hang_requests > 0
            if hang:
                self.hang_requests -= 1
        if hang:
            time.sleep(self.hang_seconds)

    # M-Pesa -------------------------------------------------------------------------------
    def mpesa_token(self, authorization: str) -> tuple[int, dict[str, Any]]:
        c = self.credentials
        basic = base64.b64encode(f"{c.mpesa_consumer_key}:{c.mpesa_consumer_secret}".encode())
        if authorization != f"Basic {basic.decode()}":
            return 400, {"errorCode": "400.008.01", "errorMessage": "Invalid Authentication passed"}
        token = secrets.token_hex(12)
        with self.lock:
            self._tokens.add(token)
        return 200, {"access_token": token, "expires_in": "3599"}

    def mpesa_b2c(self, authorization: str, body: Any) -> tuple[int, dict[str, Any]]:
        request_id = secrets.token_hex(8)
        if authorization.removeprefix("Bearer ") not in self._tokens:
            return 401, {
                "requestId": request_id,
                "errorCode": "404.001.04",
                "errorMessage": "Invalid Access Token",
            }
        problem = _mpesa_problem(body, self.credentials.mpesa_security_credential)
        if problem:
            return 400, {
                "requestId": request_id,
                "errorCode": "400.002.02",
                "errorMessage": problem,
            }
        key = body["OriginatorConversationID"]
        with self.lock:
            known = self.payments.get(("mpesa", key))
            if known is not None:
                known.requests += 1  # the same request again: answered, never paid twice
                payment = known
            else:
                msisdn = "+" + str(body["PartyB"])
                failed = msisdn in self.fail_msisdns
                payment = FakePayment(
                    "mpesa",
                    key,
                    msisdn,
                    str(body["Amount"]),
                    "KES",
                    f"AG_{time.strftime('%Y%m%d')}_{secrets.token_hex(10)}",
                    "FAILED" if failed else "SUCCESSFUL",
                )
                self.payments[("mpesa", key)] = payment
                self._queue(FakeCallback(str(body["ResultURL"]), mpesa_result_body(payment)))
        return 200, {
            "ConversationID": payment.provider_id,
            "OriginatorConversationID": key,
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }

    # MoMo ---------------------------------------------------------------------------------
    def momo_token(self, authorization: str, subscription: str) -> tuple[int, dict[str, Any]]:
        c = self.credentials
        basic = base64.b64encode(f"{c.momo_api_user}:{c.momo_api_key}".encode()).decode()
        if subscription != c.momo_subscription_key:
            return 401, {
                "statusCode": 401,
                "message": "Access denied due to invalid subscription key.",
            }
        if authorization != f"Basic {basic}":
            return 401, {"error": "login_failed"}
        token = secrets.token_hex(12)
        with self.lock:
            self._tokens.add(token)
        return 200, {"access_token": token, "token_type": "access_token", "expires_in": 3600}

    def momo_authorized(self, headers: Any) -> tuple[int, dict[str, Any]] | None:
        if headers.get("Ocp-Apim-Subscription-Key") != self.credentials.momo_subscription_key:
            return 401, {
                "statusCode": 401,
                "message": "Access denied due to invalid subscription key.",
            }
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self._tokens:
            return 401, {"code": "NOT_AUTHORIZED", "message": "Access token is invalid"}
        if not headers.get("X-Target-Environment"):
            return 400, {"code": "INVALID_TARGET_ENVIRONMENT", "message": "missing"}
        return None

    def momo_transfer(self, headers: Any, body: Any) -> tuple[int, dict[str, Any] | None]:
        refused = self.momo_authorized(headers)
        if refused:
            return refused
        reference = headers.get("X-Reference-Id", "")
        try:
            uuid.UUID(reference)
        except ValueError:
            return 400, {"code": "INVALID_REFERENCE_ID", "message": "X-Reference-Id is not a UUID"}
        problem = _momo_problem(body)
        if problem:
            return 400, {"code": "INVALID_PARAMETER", "message": problem}
        with self.lock:
            known = self.payments.get(("mtn_momo", reference))
            if known is not None:
                known.requests += 1
                return 409, {
                    "code": "RESOURCE_ALREADY_EXIST",
                    "message": "Duplicated reference id. Creation of resource failed.",
                }
            msisdn = "+" + body["payee"]["partyId"]
            status = "PENDING"
            if not self.keep_pending:
                status = "FAILED" if msisdn in self.fail_msisdns else "SUCCESSFUL"
            payment = FakePayment(
                "mtn_momo",
                reference,
                msisdn,
                body["amount"],
                body["currency"],
                str(secrets.randbelow(10**9)),
                status,
            )
            self.payments[("mtn_momo", reference)] = payment
            callback = headers.get("X-Callback-Url")
            if callback:
                self._momo_callbacks[reference] = callback
                if status != "PENDING":
                    self._queue_momo(payment)
        return 202, None

    def momo_status(self, headers: Any, reference: str) -> tuple[int, dict[str, Any]]:
        refused = self.momo_authorized(headers)
        if refused:
            return refused
        with self.lock:
            payment = self.payments.get(("mtn_momo", reference))
            if payment is None:
                return 404, {
                    "code": "RESOURCE_NOT_FOUND",
                    "message": "Requested resource was not found.",
                }
            return 200, momo_status_body(payment)


def _settings_fields(env: dict[str, str]) -> dict[str, str]:
    return {name.removeprefix("KAZI_").lower(): value for name, value in env.items()}


def mpesa_result_body(p: FakePayment) -> dict[str, Any]:
    ok = p.status == "SUCCESSFUL"
    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": 0 if ok else 2001,
        "ResultDesc": "The service request is processed successfully."
        if ok
        else "The initiator information is invalid.",
        "OriginatorConversationID": p.key,
        "ConversationID": p.provider_id,
        "TransactionID": secrets.token_hex(5).upper() if ok else "",
    }
    if ok:
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": int(p.amount)},
                {"Key": "TransactionReceipt", "Value": result["TransactionID"]},
                {"Key": "ReceiverPartyPublicName", "Value": f"{p.msisdn[1:]} - Worker"},
                {
                    "Key": "TransactionCompletedDateTime",
                    "Value": time.strftime("%d.%m.%Y %H:%M:%S"),
                },
                {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
            ]
        }
    return {"Result": result}


def momo_status_body(p: FakePayment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": p.amount,
        "currency": p.currency,
        "financialTransactionId": p.provider_id,
        "externalId": p.key,
        "payee": {"partyIdType": "MSISDN", "partyId": p.msisdn[1:]},
        "payerMessage": "payout",
        "payeeNote": "payout",
        "status": p.status,
    }
    if p.status == "FAILED":
        body["reason"] = "PAYEE_NOT_FOUND"
    return body


MPESA_FIELDS = (
    "OriginatorConversationID",
    "InitiatorName",
    "SecurityCredential",
    "CommandID",
    "Amount",
    "PartyA",
    "PartyB",
    "Remarks",
    "QueueTimeOutURL",
    "ResultURL",
)


def _mpesa_problem(body: Any, credential: str) -> str | None:
    if not isinstance(body, dict):
        return "Bad Request - body is not JSON"
    for name in MPESA_FIELDS:
        if body.get(name) in (None, ""):
            return f"Bad Request - Invalid {name}"
    if body["SecurityCredential"] != credential:
        return "Bad Request - Invalid SecurityCredential"
    if body["CommandID"] not in ("BusinessPayment", "SalaryPayment", "PromotionPayment"):
        return "Bad Request - Invalid CommandID"
    amount = body["Amount"]
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        return "Bad Request - Invalid Amount"
    party_b = str(body["PartyB"])
    if not party_b.isdigit() or not 10 <= len(party_b) <= 15:
        return "Bad Request - Invalid PartyB"
    return None


def _momo_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body is not JSON"
    amount = body.get("amount")
    if not isinstance(amount, str) or not amount.replace(".", "", 1).isdigit():
        return "amount must be a decimal string"
    if not isinstance(body.get("currency"), str) or len(body["currency"]) != 3:
        return "currency must be an ISO 4217 code"
    payee = body.get("payee")
    if not isinstance(payee, dict) or payee.get("partyIdType") != "MSISDN":
        return "payee.partyIdType must be MSISDN"
    party = payee.get("partyId")
    if not isinstance(party, str) or not party.isdigit():
        return "payee.partyId must be digits"
    if not isinstance(body.get("externalId"), str):
        return "externalId must be a string"
    return None


def _handler(fake: FakeProviders) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, body: dict[str, Any] | None) -> None:
            raw = b"" if body is None else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        def _json(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, 1_000_000)) if length else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return None

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            fake.requests.append(("GET", parts.path))
            if parts.path == "/oauth/v1/generate":
                if parse_qs(parts.query).get("grant_type") != ["client_credentials"]:
                    self._answer(
                        400,
                        {"errorCode": "400.008.02", "errorMessage": "Invalid grant type passed"},
                    )
                    return
                self._answer(*fake.mpesa_token(self.headers.get("Authorization", "")))
                return
            prefix = "/disbursement/v1_0/transfer/"
            if parts.path.startswith(prefix):
                self._answer(*fake.momo_status(self.headers, parts.path.removeprefix(prefix)))
                return
            self._answer(404, {"message": "not found"})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            fake.requests.append(("POST", parts.path))
            body = self._json()
            if parts.path in ("/mpesa/b2c/v3/paymentrequest", "/mpesa/b2c/v1/paymentrequest"):
                answer = fake.mpesa_b2c(self.headers.get("Authorization", ""), body)
                fake._hang()
                self._answer(*answer)
                return
            if parts.path == "/disbursement/token/":
                self._answer(
                    *fake.momo_token(
                        self.headers.get("Authorization", ""),
                        self.headers.get("Ocp-Apim-Subscription-Key", ""),
                    )
                )
                return
            if parts.path == "/disbursement/v1_0/transfer":
                answer2 = fake.momo_transfer(self.headers, body)
                fake._hang()
                self._answer(*answer2)
                return
            self._answer(404, {"message": "not found"})

    return Handler


if __name__ == "__main__":  # python -m engine.demo.fake_providers: run one until Ctrl-C
    with FakeProviders(auto_deliver=True) as running:
        for name, value in running.settings_env().items():
            print(f"export {name}={value}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


# -- for the demo: a confirmed method for a simulated worker --------------------------------


def give_demo_method(ctx: Any, worker_id: str, msisdn: str, provider: str = "mpesa") -> None:
    """Register and confirm a simulated worker's payout method (the code read back at once,
    as staff would after checking the worker)."""
    from engine.payouts import service

    cipher = ctx.token_cipher
    ctx.in_unit_of_work(service.register_method, worker_id, provider, msisdn, "Demo worker", cipher)
    with ctx.uow() as uow:
        code = service.pending_code(uow, worker_id, cipher)
    if code is None:
        raise RuntimeError(f"worker {worker_id} has no pending method")
    ctx.in_unit_of_work(service.confirm_method, worker_id, code, cipher, PayoutSettings())
