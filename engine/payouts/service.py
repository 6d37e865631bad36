"""Payout use cases: payout methods, payout runs, provider results.

**Methods.** A worker registers a provider and a mobile number (E.164, validated with
``phonenumbers``) and an account name; nothing else is asked, so a worker with no national ID
can be paid wherever the programme can pay. The number is stored sealed with the data key and
shown masked. The engine makes a 6-digit confirmation code; it reaches the worker through a
person: this engine has no SMS gateway, so programme staff read it from ``kazi workers
payout-method code HANDLE`` (sealed at rest like the number) and give it to the worker, who
confirms with ``POST /v1/work/payout-method/confirm`` (or staff confirm for them with ``kazi
workers payout-method confirm``). A method that replaces a confirmed one holds payouts for
KAZI_METHOD_CHANGE_HOLD_HOURS after its confirmation: a stolen worker key cannot redirect the
next payout at once.

**Runs** (``run_payouts``). A run for one provider in a currency it does not pay is refused
before anything is opened; in a run for every provider, a worker whose method's provider does
not pay the currency is skipped (``currency_not_paid``, nothing posted). One short transaction
per worker: lock the worker's row, read the
balance, plan (engine/domain/payout_plan.py), insert the payout and post
``payout:<batch>:<worker>`` together. A partial unique index allows one open payout per worker,
currency and source, so two runs racing cannot pay one balance twice (the second waits on the
row lock, then sees the open payout, or its post is refused as an overdraft). Only then, with no
transaction open, the payouts are sent: every payout posted but not sent, or sent without an
answer, in any batch (a crashed run's included), with its payout id as the provider's
idempotency key. Each send first claims the payout for twice the provider timeout and counts
the attempt (one short transaction): two runs never send one payout at once, and a run killed
mid-request leaves a claim that runs out, after which the next run sends it again. A refusal
ends a payout as failed only on its first attempt (a refused resend may be a duplicate).

**Results** (``apply_result``). Confirmed: ``payout-result:<payout id>`` in transit → cash.
Failed: the same key, in transit → the source account (the money is the worker's again). The
benefits share of a failed payout stays saved: it never left the engine and is the worker's
either way. Every result that arrives is recorded (``payout_callbacks``) with what was done:
applied, duplicate, unknown reference, or refused (a changed amount, a contradiction).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError

from engine.db.payout_models import (
    PayoutBatchRow,
    PayoutCallbackRow,
    PayoutMethodRow,
    PayoutRow,
)
from engine.domain.ledger import LedgerError
from engine.domain.money import Money, MoneyError, check_currency, parse_amount
from engine.domain.payout_plan import (
    CODE_LIFETIME_MINUTES,
    CODE_MAX_ATTEMPTS,
    MethodView,
    PayoutPlanError,
    PayoutRules,
    PayoutSource,
    PlannedPayout,
    Skipped,
    check_account_name,
    check_code_format,
    check_provider,
    check_provider_pays,
    is_csv_provider,
    mask_msisdn,
    match_entry,
    normalise_msisdn,
    payout_entry,
    plan_payout,
    result_entry,
    source_account,
)
from engine.domain.payout_states import (
    RESEND_STATES,
    BatchState,
    MethodState,
    PayoutState,
    batch_state_for,
)
from engine.errors import KaziError
from engine.payouts.payout_settings import PayoutSettings
from engine.payouts.providers import (
    PayoutOrder,
    ProviderAnswer,
    ProviderSource,
    SendOutcome,
)
from engine.payouts.providers.csv_export import CsvExport
from engine.unit_of_work import UnitOfWork, UnitOfWorkFactory
from engine.workforce.token_cipher import TokenCipher

log = logging.getLogger(__name__)


class PayoutError(KaziError):
    status = 422
    code = "payout_refused"


class MethodNotFound(PayoutError):
    status = 404
    code = "payout_method_not_found"


class PayoutNotFound(PayoutError):
    status = 404
    code = "payout_not_found"


class CurrencyNotPaid(PayoutError):
    status = 422
    code = "currency_not_paid"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; they were stored as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# -- methods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodInfo:
    method_id: str
    provider: str
    msisdn_masked: str
    account_name: str
    state: str
    hold_until: datetime | None
    created_at: datetime
    confirmed_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "method_id": self.method_id,
            "provider": self.provider,
            "msisdn": self.msisdn_masked,
            "account_name": self.account_name,
            "state": self.state,
            "hold_until": self.hold_until.isoformat() if self.hold_until else None,
            "created_at": self.created_at.isoformat(),
            "confirmed_at": self.confirmed_at.isoformat() if self.confirmed_at else None,
        }


def _info(row: PayoutMethodRow) -> MethodInfo:
    return MethodInfo(
        row.id,
        row.provider,
        row.msisdn_masked,
        row.account_name,
        row.state,
        _aware(row.hold_until),
        _aware(row.created_at) or _now(),
        _aware(row.confirmed_at),
    )


def _bad(error: PayoutPlanError | MoneyError) -> PayoutError:
    return PayoutError(str(error))


def register_method(
    uow: UnitOfWork,
    worker_id: str,
    provider: str,
    msisdn: str,
    account_name: str,
    cipher: TokenCipher,
    *,
    default_region: str | None = None,
    now: datetime | None = None,
) -> MethodInfo:
    """Register (or change) the worker's payout method; it waits for its confirmation code.
    The previous method, confirmed or not, stops being used at once."""
    now = now or _now()
    try:
        provider = check_provider(provider)
        number = normalise_msisdn(msisdn, default_region)
        name = check_account_name(account_name)
    except PayoutPlanError as error:
        raise _bad(error) from None
    if uow.payouts.lock_worker(worker_id) is None:
        raise MethodNotFound(f"no worker {worker_id}")
    previous = uow.payouts.live_method(worker_id, for_update=True)
    replaces: str | None = None
    if previous is not None:
        # A worker who replaces a pending method keeps the change-hold of the confirmed one
        # before it: the hold follows the last confirmed method.
        was_confirmed = previous.state == MethodState.CONFIRMED.value or bool(previous.replaces_id)
        replaces = previous.id if was_confirmed else None
        previous.state, previous.replaced_at = MethodState.REPLACED.value, now
        uow.flush()
    code = f"{secrets.randbelow(10**6):06d}"
    row = PayoutMethodRow(
        id=str(uuid.uuid4()),
        worker_id=worker_id,
        provider=provider,
        msisdn_sealed=cipher.seal(number),
        msisdn_masked=mask_msisdn(number),
        account_name=name,
        state=MethodState.PENDING.value,
        code_sealed=cipher.seal(code),
        code_expires_at=now + timedelta(minutes=CODE_LIFETIME_MINUTES),
        code_attempts=0,
        replaces_id=replaces,
        created_at=now,
    )
    uow.payouts.add(row)
    return _info(row)


class ConfirmOutcome(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY = "already_confirmed"
    WRONG_CODE = "wrong_code"
    EXPIRED = "expired"
    LOCKED = "locked"


@dataclass(frozen=True)
class Confirmation:
    outcome: ConfirmOutcome
    method: MethodInfo
    attempts_left: int


def confirm_method(
    uow: UnitOfWork,
    worker_id: str,
    code: str,
    cipher: TokenCipher,
    settings: PayoutSettings,
    *,
    now: datetime | None = None,
) -> Confirmation:
    """Check the code. Returns (never raises for a wrong code) so the attempt is counted in the
    committed transaction; the caller answers the refusal."""
    now = now or _now()
    try:
        check_code_format(code)
    except PayoutPlanError as error:
        raise _bad(error) from None
    row = uow.payouts.live_method(worker_id, for_update=True)
    if row is None:
        raise MethodNotFound("no payout method registered: register one first")
    state = MethodState(row.state)
    if state is MethodState.CONFIRMED:
        return Confirmation(ConfirmOutcome.ALREADY, _info(row), 0)
    if state is MethodState.LOCKED:
        return Confirmation(ConfirmOutcome.LOCKED, _info(row), 0)
    expires = _aware(row.code_expires_at)
    if expires is None or now >= expires or row.code_sealed is None:
        return Confirmation(ConfirmOutcome.EXPIRED, _info(row), 0)
    expected = cipher.open(row.code_sealed)
    if not hmac.compare_digest(expected.encode(), code.encode()):
        row.code_attempts += 1
        left = CODE_MAX_ATTEMPTS - row.code_attempts
        if left <= 0:
            row.state, row.code_sealed = MethodState.LOCKED.value, None
            return Confirmation(ConfirmOutcome.LOCKED, _info(row), 0)
        return Confirmation(ConfirmOutcome.WRONG_CODE, _info(row), left)
    row.state, row.confirmed_at, row.code_sealed = MethodState.CONFIRMED.value, now, None
    if row.replaces_id is not None:
        row.hold_until = now + timedelta(hours=settings.method_change_hold_hours)
    return Confirmation(ConfirmOutcome.CONFIRMED, _info(row), CODE_MAX_ATTEMPTS)


def current_method(uow: UnitOfWork, worker_id: str) -> MethodInfo | None:
    row = uow.payouts.live_method(worker_id)
    return None if row is None else _info(row)


def pending_code(uow: UnitOfWork, worker_id: str, cipher: TokenCipher) -> str | None:
    """The confirmation code of the worker's pending method, for staff to hand over."""
    row = uow.payouts.live_method(worker_id)
    if row is None or row.state != MethodState.PENDING.value or row.code_sealed is None:
        return None
    return cipher.open(row.code_sealed)


# -- callback URLs ---------------------------------------------------------------------------

CALLBACK_CONTEXT = b"payout-callback\n"


def callback_token(payout_id: str, key: str) -> str:
    """``<payout id>.<HMAC>``: the capability in a payout's result URL (only the provider that
    got the request knows it). Verified against every signing key, so rotation keeps in-flight
    results working."""
    mac = hmac.new(key.encode(), CALLBACK_CONTEXT + payout_id.encode(), hashlib.sha256)
    return f"{payout_id}.{mac.hexdigest()[:40]}"


def payout_of_token(token: str, keys: tuple[str, ...]) -> str | None:
    payout_id, dot, _ = token.partition(".")
    if not dot or not payout_id or len(token) > 120:
        return None
    for key in keys:
        if key and hmac.compare_digest(callback_token(payout_id, key).encode(), token.encode()):
            return payout_id
    return None


@dataclass(frozen=True)
class CallbackUrls:
    base_url: str  # the engine's public URL, as the provider reaches it
    signing_key: str

    def result_url(self, provider: str, payout_id: str) -> str:
        token = callback_token(payout_id, self.signing_key)
        if provider == "mtn_momo":
            return f"{self.base_url.rstrip('/')}/v1/hooks/momo/{token}"
        return f"{self.base_url.rstrip('/')}/v1/hooks/mpesa/result/{token}"

    def timeout_url(self, provider: str, payout_id: str) -> str:
        token = callback_token(payout_id, self.signing_key)
        return f"{self.base_url.rstrip('/')}/v1/hooks/mpesa/timeout/{token}"


# -- runs ------------------------------------------------------------------------------------

ProviderFor = ProviderSource


@dataclass(frozen=True)
class RunRequest:
    currency: str
    min_amount: str | None = None  # decimal text in the currency ("100.00"); None: settings
    provider: str | None = None  # only methods of this provider
    benefits: bool = False  # a benefits withdrawal run
    requested_by: str = "cli"


@dataclass
class RunReport:
    batch_id: str
    currency: str
    source: str
    paid: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # worker_id, reason[, detail]
    sent: dict[str, str] = field(default_factory=dict)  # payout id -> state after sending
    resent: list[str] = field(default_factory=list)  # earlier payouts sent again
    exports: dict[str, str] = field(default_factory=dict)  # csv provider -> file text
    state: str = BatchState.OPEN.value

    def as_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "currency": self.currency,
            "source": self.source,
            "state": self.state,
            "paid": self.paid,
            "skipped": self.skipped,
            "sent": self.sent,
            "resent": self.resent,
            "exports": sorted(self.exports),
        }


def rules_for(
    request: RunRequest,
    settings: PayoutSettings,
    currencies: Mapping[str, frozenset[str]],
) -> PayoutRules:
    """The run's rules; ``currencies``: provider -> what it pays (a provider not named: any)."""
    try:
        currency = check_currency(request.currency)
        if request.min_amount is not None:
            minimum = parse_amount(request.min_amount, currency)
        else:
            minimum = Money(currency, settings.payout_min_minor)
        if request.provider is not None:
            check_provider(request.provider)
            try:
                check_provider_pays(request.provider, currency, currencies)
            except PayoutPlanError as error:
                raise CurrencyNotPaid(f"{error}: choose a currency it pays") from None
        return PayoutRules(
            min_amount=minimum,
            share_bps=settings.benefits_share_bps,
            match_bps=settings.benefits_match_bps,
            provider=request.provider,
            source=PayoutSource.BENEFITS if request.benefits else PayoutSource.AVAILABLE,
            currencies=dict(currencies),
        )
    except (MoneyError, PayoutPlanError) as error:
        raise _bad(error) from None


def open_batch(uow: UnitOfWork, request: RunRequest, rules: PayoutRules) -> str:
    batch = PayoutBatchRow(
        id=str(uuid.uuid4()),
        currency=rules.min_amount.currency,
        provider=request.provider,
        source=rules.source.value,
        min_minor=rules.min_amount.minor,
        state=BatchState.OPEN.value,
        requested_by=request.requested_by[:200],
    )
    uow.payouts.add(batch)
    return batch.id


def post_worker_payout(
    uow: UnitOfWork,
    batch_id: str,
    worker_id: str,
    rules: PayoutRules,
    now: datetime,
    usable: Callable[[str], bool] = lambda provider: True,
) -> PlannedPayout | Skipped | str:
    """One worker's payout decision and posting, in the caller's (short) transaction: the
    planned payout, the reason it was skipped, or ``"open_payout"`` when one is still open."""
    if uow.payouts.lock_worker(worker_id) is None:
        return "no_worker"
    currency = rules.min_amount.currency
    if uow.payouts.open_payout(worker_id, currency, rules.source.value) is not None:
        return "open_payout"
    row = uow.payouts.live_method(worker_id)
    method = None
    if row is not None:
        method = MethodView(
            row.id, row.provider, row.state == MethodState.CONFIRMED.value, _aware(row.hold_until)
        )
    balance = Money(currency, uow.ledger.balance(source_account(worker_id, rules.source, currency)))
    plan = plan_payout(worker_id, balance, method, rules, now)
    if isinstance(plan, Skipped):
        return plan
    if not usable(plan.provider):  # never move money towards a provider that cannot be paid
        return "provider_not_configured"
    payout_id = str(uuid.uuid4())
    uow.payouts.add(
        PayoutRow(
            id=payout_id,
            batch_id=batch_id,
            worker_id=worker_id,
            method_id=plan.method_id,
            provider=plan.provider,
            source=plan.source.value,
            currency=currency,
            gross_minor=plan.gross.minor,
            net_minor=plan.net.minor,
            benefits_minor=plan.benefits.minor,
            match_minor=plan.match.minor,
            state=PayoutState.POSTED.value,
            send_attempts=0,
            created_at=now,
        )
    )
    uow.ledger.post(payout_entry(batch_id, payout_id, plan))
    matched = match_entry(batch_id, payout_id, plan)
    if matched is not None:
        uow.ledger.post(matched)
    return plan


def run_payouts(
    uow_factory: UnitOfWorkFactory,
    request: RunRequest,
    provider_for: ProviderFor,
    settings: PayoutSettings,
    cipher: TokenCipher,
    urls: CallbackUrls,
    *,
    now: datetime | None = None,
    worker_ids: list[str] | None = None,
) -> RunReport:
    """A payout run: open a batch, post one payout per payable worker (a transaction each),
    then send every payout that is posted but unsent (this batch's and any crashed run's)."""
    now = now or _now()
    rules = rules_for(request, settings, provider_for.currencies())
    currency = rules.min_amount.currency
    with uow_factory() as uow:
        batch_id = open_batch(uow, request, rules)
        # Workers with no live method have nothing to be paid to: not visited.
        ids = worker_ids if worker_ids is not None else uow.payouts.workers_with_methods()
        uow.commit()
    report = RunReport(batch_id, currency, rules.source.value)
    usable = _usable_providers(provider_for)
    for worker_id in ids:
        with uow_factory() as uow:
            try:
                outcome = post_worker_payout(uow, batch_id, worker_id, rules, now, usable)
                uow.commit()
            except IntegrityError:  # a racing run opened this worker's payout first
                uow.rollback()
                outcome = "open_payout"
            except LedgerError as error:  # the balance moved under us: nothing posted
                uow.rollback()
                log.warning("payout for %s not posted: %s", worker_id, error)
                outcome = "ledger_refused"
        if isinstance(outcome, PlannedPayout):
            report.paid.append(
                {
                    "worker_id": worker_id,
                    "provider": outcome.provider,
                    "gross": outcome.gross.as_json(),
                    "net": outcome.net.as_json(),
                    "benefits": outcome.benefits.as_json(),
                    "match": outcome.match.as_json(),
                }
            )
        elif isinstance(outcome, Skipped):
            skipped = {"worker_id": worker_id, "reason": outcome.reason.value}
            if outcome.detail:
                skipped["detail"] = outcome.detail
            report.skipped.append(skipped)
        else:
            report.skipped.append({"worker_id": worker_id, "reason": outcome})
    lease = 2 * settings.provider_timeout_seconds + 5
    send_pending(uow_factory, currency, provider_for, cipher, urls, report, request.provider, lease)
    with uow_factory() as uow:
        report.state = _refresh_batch(uow, batch_id)
        uow.commit()
    return report


def _usable_providers(provider_for: ProviderFor) -> Callable[[str], bool]:
    known: dict[str, bool] = {}

    def usable(provider: str) -> bool:
        if is_csv_provider(provider):
            return True
        if provider not in known:
            try:
                provider_for(provider)
                known[provider] = True
            except KaziError as error:
                log.warning("payouts via %s skipped: %s", provider, error.message)
                known[provider] = False
        return known[provider]

    return usable


def _refresh_batch(uow: UnitOfWork, batch_id: str) -> str:
    batch = uow.payouts.batch(batch_id, for_update=True)
    if batch is None:
        return BatchState.CLOSED.value
    payouts = uow.payouts.payouts_of_batch(batch_id)
    states = [PayoutState(p.state) for p in payouts]
    all_sent = all(s not in (PayoutState.POSTED, PayoutState.UNKNOWN) for s in states)
    target = batch_state_for(states, all_sent)
    if batch.state != target.value and BatchState(batch.state).can_move_to(target):
        batch.state = target.value
    return batch.state


def send_pending(
    uow_factory: UnitOfWorkFactory,
    currency: str,
    provider_for: ProviderFor,
    cipher: TokenCipher,
    urls: CallbackUrls,
    report: RunReport,
    provider: str | None = None,
    lease_seconds: float = 60.0,
) -> None:
    """Send every payout posted but unsent, or sent without a known answer. Each is claimed
    for ``lease_seconds`` first (twice the provider timeout: no request outlives it), so two
    runs never send one payout at the same time."""
    with uow_factory() as uow:
        pending = [
            (p.id, p.batch_id, p.provider, p.method_id, p.net_minor, p.currency)
            for p in uow.payouts.payouts_to_send(currency, provider)
        ]
        methods = {}
        for _, _, _, method_id, _, _ in pending:
            method = uow.payouts.method(method_id)
            if method is not None:
                methods[method_id] = (cipher.open(method.msisdn_sealed), method.account_name)
    exports: dict[str, CsvExport] = {}
    for payout_id, batch_id, provider_name, method_id, net_minor, cur in pending:
        if batch_id != report.batch_id:
            report.resent.append(payout_id)
        msisdn, account_name = methods[method_id]
        order = PayoutOrder(
            payout_id=payout_id,
            msisdn=msisdn,
            account_name=account_name,
            amount=Money(cur, net_minor),
            remarks=f"Kazi payout {payout_id[:8]}",
            result_url=urls.result_url(provider_name, payout_id),
            timeout_url=urls.timeout_url(provider_name, payout_id),
        )
        if is_csv_provider(provider_name):
            exports.setdefault(provider_name, CsvExport(provider_name)).send(order)
            continue
        try:
            adapter = provider_for(provider_name)
        except KaziError as error:  # stays posted: the next run sends it
            report.sent[payout_id] = f"{PayoutState.POSTED.value} ({error.message})"
            continue
        with uow_factory() as uow:
            before = mark_sending(uow, payout_id, lease_seconds)
            uow.commit()
        if before is None:
            report.sent[payout_id] = "sending_elsewhere"
            continue
        answer = adapter.send(order)  # no transaction open while the provider is called
        with uow_factory() as uow:
            report.sent[payout_id] = record_send(uow, payout_id, answer, first_attempt=before == 0)
            uow.commit()
    for name, export in exports.items():
        # Claimed first (posted/unknown -> exported, one transaction): of two racing runs only
        # one puts a payout in its file. A crash before the file is written leaves them
        # exported with no file: ``export_batch`` writes it again from the database.
        with uow_factory() as uow:
            claimed = [
                order
                for order in export.orders
                if record_send(
                    uow,
                    order.payout_id,
                    ProviderAnswer(SendOutcome.ACCEPTED, reference=order.payout_id),
                    exported=True,
                    claim=True,
                )
                == PayoutState.EXPORTED.value
            ]
            uow.commit()
        for order in claimed:
            report.sent[order.payout_id] = PayoutState.EXPORTED.value
        export.orders = claimed
        report.exports[name] = export.text()


def export_batch(uow: UnitOfWork, batch_id: str, cipher: TokenCipher) -> dict[str, str]:
    """The CSV file(s) of a batch's exported payouts, again (a lost or crashed export)."""
    files: dict[str, CsvExport] = {}
    for p in uow.payouts.payouts_of_batch(batch_id):
        if p.state != PayoutState.EXPORTED.value:
            continue
        method = uow.payouts.method(p.method_id)
        assert method is not None
        files.setdefault(p.provider, CsvExport(p.provider)).send(
            PayoutOrder(
                payout_id=p.id,
                msisdn=cipher.open(method.msisdn_sealed),
                account_name=method.account_name,
                amount=Money(p.currency, p.net_minor),
                remarks=f"Kazi payout {p.id[:8]}",
                result_url="",
                timeout_url="",
            )
        )
    return {name: export.text() for name, export in files.items()}


def mark_sending(uow: UnitOfWork, payout_id: str, lease_seconds: float) -> int | None:
    """Claim the payout for sending and count the attempt before the request leaves
    (write-ahead: after a crash the payout shows it may have reached the provider). None when
    it needs no sending any more, or another run is sending it now (its claim not yet past);
    else the attempts made before this one."""
    payout = uow.payouts.payout(payout_id, for_update=True)
    if payout is None:
        raise PayoutNotFound(f"no payout {payout_id}")
    now = _now()
    if PayoutState(payout.state) not in RESEND_STATES:
        return None
    held = _aware(payout.sending_until)
    if held is not None and held > now:
        return None
    before = payout.send_attempts
    payout.send_attempts = before + 1
    payout.sent_at = now
    payout.sending_until = now + timedelta(seconds=lease_seconds)
    return before


def record_send(
    uow: UnitOfWork,
    payout_id: str,
    answer: ProviderAnswer,
    *,
    exported: bool = False,
    claim: bool = False,
    first_attempt: bool = True,
) -> str:
    """Record what the provider answered. ``claim`` (exports): only a payout still waiting to
    be sent moves, so one another run claimed first is left to it. A refusal settles the
    payout as failed only on its first attempt: a refused resend may be the provider refusing
    a duplicate of a request it is paying, so the payout stays unknown until a result (a
    callback, a status query, a result file) says what happened."""
    payout = uow.payouts.payout(payout_id, for_update=True)
    if payout is None:
        raise PayoutNotFound(f"no payout {payout_id}")
    state = PayoutState(payout.state)
    if claim:
        if state not in (PayoutState.POSTED, PayoutState.UNKNOWN):
            return f"claimed:{state.value}"
        payout.send_attempts += 1
        payout.sent_at = _now()
    payout.sending_until = None
    if state.final:  # a result overtook the send's own answer
        return state.value
    if answer.reference:
        payout.provider_reference = answer.reference[:100]
    payout.result_code, payout.result_detail = answer.code, answer.detail
    refused = answer.outcome is SendOutcome.REFUSED
    if answer.outcome in (SendOutcome.CONFIRMED, SendOutcome.FAILED) or (refused and first_attempt):
        settle(uow, payout, confirmed=answer.outcome is SendOutcome.CONFIRMED)
    elif answer.outcome is SendOutcome.ACCEPTED:
        target = PayoutState.EXPORTED if exported else PayoutState.SUBMITTED
        if state.can_move_to(target):
            payout.state = target.value
    elif state.can_move_to(PayoutState.UNKNOWN):
        # No answer, or a refused resend: sent again by the next run, or settled by a result.
        payout.state = PayoutState.UNKNOWN.value
    return payout.state


def settle(uow: UnitOfWork, payout: PayoutRow, *, confirmed: bool) -> None:
    """Post the payout's one result entry and make it final (the row is locked)."""
    net = Money(payout.currency, payout.net_minor)
    uow.ledger.post(
        result_entry(
            payout.id,
            payout.worker_id,
            payout.provider,
            PayoutSource(payout.source),
            net,
            confirmed,
        )
    )
    payout.state = (PayoutState.CONFIRMED if confirmed else PayoutState.FAILED).value
    payout.settled_at = _now()


# -- results ---------------------------------------------------------------------------------


class ResultOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    UNKNOWN_REFERENCE = "unknown_reference"
    REFUSED = "refused"
    PENDING = "pending"


@dataclass(frozen=True)
class ProviderResult:
    channel: str  # mpesa_result | mpesa_timeout | momo | momo_status | result_file
    payout_id: str | None
    status: SendOutcome  # CONFIRMED | FAILED | PENDING | UNKNOWN
    amount: Money | None = None  # what the provider says it paid, when it says
    reference: str | None = None
    transaction_id: str | None = None
    code: str | None = None
    detail: str | None = None
    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultReport:
    outcome: ResultOutcome
    payout_id: str | None
    state: str | None
    detail: str = ""


def apply_result(uow: UnitOfWork, result: ProviderResult) -> ResultReport:
    """Apply one provider result exactly once, and record it whatever happens."""
    payout = uow.payouts.payout(result.payout_id, for_update=True) if result.payout_id else None
    report = _judge(uow, payout, result)
    uow.payouts.record_result(
        PayoutCallbackRow(
            channel=result.channel,
            # What the result names: the unknown payout id, else the provider's reference.
            reference=(
                (result.payout_id if payout is None else None)
                or result.reference
                or result.payout_id
                or ""
            )[:200]
            or None,
            payout_id=payout.id if payout is not None else None,
            outcome=report.outcome.value,
            detail=report.detail[:1000] or None,
            body=dict(result.body),
        )
    )
    return report


def _judge(uow: UnitOfWork, payout: PayoutRow | None, result: ProviderResult) -> ResultReport:
    if payout is None:
        return ResultReport(
            ResultOutcome.UNKNOWN_REFERENCE, result.payout_id, None, "no payout has this reference"
        )
    state = PayoutState(payout.state)
    net = Money(payout.currency, payout.net_minor)
    if result.amount is not None and result.amount != net:
        return ResultReport(
            ResultOutcome.REFUSED,
            payout.id,
            state.value,
            f"amount {result.amount.format()} is not the payout's {net.format()}: not applied",
        )
    if result.status in (SendOutcome.PENDING, SendOutcome.UNKNOWN):
        if state is PayoutState.UNKNOWN and result.status is SendOutcome.PENDING:
            payout.state = PayoutState.SUBMITTED.value  # the provider has it
        return ResultReport(ResultOutcome.PENDING, payout.id, payout.state, result.detail or "")
    confirmed = result.status is SendOutcome.CONFIRMED
    if state.final:
        same = (state is PayoutState.CONFIRMED) == confirmed
        outcome = ResultOutcome.DUPLICATE if same else ResultOutcome.REFUSED
        detail = "" if same else f"the payout is {state.value} already; this result says otherwise"
        return ResultReport(outcome, payout.id, state.value, detail)
    if result.transaction_id:
        payout.provider_transaction = result.transaction_id[:100]
    if result.reference and not payout.provider_reference:
        payout.provider_reference = result.reference[:100]
    payout.result_code, payout.result_detail = result.code, result.detail
    settle(uow, payout, confirmed=confirmed)
    _refresh_batch(uow, payout.batch_id)
    return ResultReport(ResultOutcome.APPLIED, payout.id, payout.state)


def reconcile(
    uow_factory: UnitOfWorkFactory, provider_for: ProviderFor, currency: str | None = None
) -> list[ResultReport]:
    """Ask providers with a status query about payouts still waiting (submitted or unknown)."""
    with uow_factory() as uow:
        waiting = [
            (p.id, p.provider, p.provider_reference, p.currency)
            for p in uow.payouts.payouts_in_state([PayoutState.SUBMITTED, PayoutState.UNKNOWN])
            if not is_csv_provider(p.provider) and (currency is None or p.currency == currency)
        ]
    reports = []
    for payout_id, provider, reference, _ in waiting:
        answer = provider_for(provider).status(payout_id, reference)
        if answer is None:
            continue
        with uow_factory() as uow:
            reports.append(
                apply_result(
                    uow,
                    ProviderResult(
                        channel=f"{provider}_status",
                        payout_id=payout_id,
                        status=answer.outcome,
                        reference=reference,
                        transaction_id=answer.transaction_id,
                        code=answer.code,
                        detail=answer.detail,
                        body={"status": answer.outcome.value, "code": answer.code or ""},
                    ),
                )
            )
            uow.commit()
    return reports


def batch_view(uow: UnitOfWork, batch_id: str) -> dict[str, Any]:
    batch = uow.payouts.batch(batch_id)
    if batch is None:
        raise PayoutNotFound(f"no payout batch {batch_id}")
    payouts = uow.payouts.payouts_of_batch(batch_id)
    return {
        "batch_id": batch.id,
        "currency": batch.currency,
        "provider": batch.provider,
        "source": batch.source,
        "state": batch.state,
        "requested_by": batch.requested_by,
        "payouts": [
            {
                "payout_id": p.id,
                "worker_id": p.worker_id,
                "provider": p.provider,
                "state": p.state,
                "net": Money(p.currency, p.net_minor).as_json(),
                "benefits": Money(p.currency, p.benefits_minor).as_json(),
                "match": Money(p.currency, p.match_minor).as_json(),
                "provider_transaction": p.provider_transaction,
            }
            for p in payouts
        ],
    }
