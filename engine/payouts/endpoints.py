"""Payout routes: a worker's payout method, staff payout runs, provider result callbacks.

Worker and staff routes check the key before reading the body. Provider callbacks are
authenticated by the capability in their path (``<payout id>.<HMAC>``, engine/payouts/service.py
``callback_token``): checked without the database before the body is read; the body is read
within a small limit (engine/api/body_limit.py) and must name the same payout.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, NoReturn

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from engine.api.body_limit import PROVIDER_RESULT_BODY_LIMIT
from engine.api.deps import get_ctx, run_unit_of_work
from engine.api.request_body import json_body_doc, read_json_body
from engine.domain.money import Money, MoneyError, minor_unit_digits, parse_amount
from engine.errors import KaziError
from engine.payouts import service
from engine.payouts.payout_settings import payout_settings
from engine.payouts.providers import SendOutcome
from engine.payouts.providers.mpesa_b2c import MalformedResult, parse_result
from engine.payouts.providers.mtn_momo import MalformedStatus, MomoStatus, parse_status
from engine.payouts.providers.registry import ProviderRegistry
from engine.staff.dependency import StaffName
from engine.unit_of_work import UnitOfWork
from engine.work.endpoints import WorkerKey, body_after_key, worker_for_key
from engine.workforce.token_cipher import TokenCipher
from schemas.payouts import ConfirmMethodRequest, PayoutMethodRequest, PayoutRunRequest
from schemas.safe_text import refuse_nul_in_json

work_router = APIRouter(prefix="/v1/work", tags=["payouts"])
staff_router = APIRouter(prefix="/v1/staff", tags=["staff"])
hooks_router = APIRouter(prefix="/v1/hooks", tags=["payout providers"])


class WrongCode(KaziError):
    status = 422
    code = "wrong_code"


class CodeExpired(KaziError):
    status = 422
    code = "code_expired"


class MethodLocked(KaziError):
    status = 423
    code = "payout_method_locked"


class UnknownReference(KaziError):
    status = 404
    code = "unknown_reference"


class ResultRefused(KaziError):
    status = 409
    code = "result_refused"


def providers_of(request: Request) -> ProviderRegistry:
    """The app's adapters (tests and the demo may set ``app.state.payout_providers``)."""
    state = request.app.state
    if getattr(state, "payout_providers", None) is None:
        ctx = get_ctx(request)
        state.payout_providers = ProviderRegistry(ctx.settings, payout_settings())
    registry: ProviderRegistry = state.payout_providers
    return registry


# -- worker: payout method ------------------------------------------------------------------


@work_router.put(
    "/payout-method",
    summary="Register or change your payout method (it waits for its confirmation code)",
    openapi_extra=json_body_doc(PayoutMethodRequest, required=True),
)
async def put_payout_method(request: Request, key: WorkerKey) -> dict[str, Any]:
    ctx = get_ctx(request)
    body = await body_after_key(ctx, key, read_json_body(request, PayoutMethodRequest))
    info = await run_unit_of_work(ctx, _register, key, body, ctx.token_cipher)
    return {
        **info.as_json(),
        "confirmation": "a 6-digit code was made for this method; programme staff give it to "
        "you (kazi workers payout-method code); send it to POST /v1/work/payout-method/confirm",
    }


def _register(
    uow: UnitOfWork, key: str, body: PayoutMethodRequest, cipher: TokenCipher
) -> service.MethodInfo:
    worker = worker_for_key(uow, key)
    return service.register_method(
        uow,
        worker.id,
        body.provider,
        body.msisdn,
        body.account_name,
        cipher,
        default_region=body.region,
    )


@work_router.post(
    "/payout-method/confirm",
    summary="Confirm your payout method with its 6-digit code",
    openapi_extra=json_body_doc(ConfirmMethodRequest, required=True),
)
async def confirm_payout_method(request: Request, key: WorkerKey) -> dict[str, Any]:
    ctx = get_ctx(request)
    body = await body_after_key(ctx, key, read_json_body(request, ConfirmMethodRequest))
    done = await run_unit_of_work(ctx, _confirm, key, body.code, ctx.token_cipher)
    outcome = done.outcome
    if outcome is service.ConfirmOutcome.WRONG_CODE:
        raise WrongCode(f"wrong code; {done.attempts_left} attempt(s) left")
    if outcome is service.ConfirmOutcome.EXPIRED:
        raise CodeExpired("the code expired: register the method again for a new one")
    if outcome is service.ConfirmOutcome.LOCKED:
        raise MethodLocked("too many wrong codes: register the method again")
    return {**done.method.as_json(), "outcome": outcome.value}


def _confirm(uow: UnitOfWork, key: str, code: str, cipher: TokenCipher) -> service.Confirmation:
    worker = worker_for_key(uow, key)
    return service.confirm_method(uow, worker.id, code, cipher, payout_settings())


@work_router.get("/payout-method", summary="Your payout method (the number masked)")
async def get_payout_method(request: Request, key: WorkerKey) -> dict[str, Any]:
    info = await run_unit_of_work(get_ctx(request), _current, key)
    if info is None:
        raise service.MethodNotFound("no payout method registered")
    return info.as_json()


def _current(uow: UnitOfWork, key: str) -> service.MethodInfo | None:
    return service.current_method(uow, worker_for_key(uow, key).id)


# -- staff: payout runs ---------------------------------------------------------------------


@staff_router.post(
    "/payouts/runs",
    status_code=201,
    summary="Run payouts: a batch, one payout per payable worker, sent to the providers",
    openapi_extra=json_body_doc(PayoutRunRequest, required=True),
)
async def post_payout_run(request: Request, staff: StaffName) -> dict[str, Any]:
    ctx = get_ctx(request)
    body = await read_json_body(request, PayoutRunRequest)
    run = service.RunRequest(
        currency=body.currency,
        min_amount=body.min_amount,
        provider=body.provider,
        benefits=body.benefits,
        requested_by=f"staff:{staff}",
    )
    registry = providers_of(request)
    report = await run_in_threadpool(
        service.run_payouts,
        ctx.uow,
        run,
        registry,
        payout_settings(),
        ctx.token_cipher,
        service.CallbackUrls(ctx.settings.public_url, ctx.settings.signing_secret),
    )
    return {**report.as_json(), "exports": report.exports}


@staff_router.get("/payouts/runs/{batch_id}", summary="A payout batch and its payouts")
async def get_payout_run(request: Request, batch_id: str, staff: StaffName) -> dict[str, Any]:
    if len(batch_id) > 36:
        raise service.PayoutNotFound(f"no payout batch {batch_id[:36]}")
    return await run_unit_of_work(get_ctx(request), service.batch_view, batch_id)


# -- provider callbacks ---------------------------------------------------------------------


def _payout_of(request: Request, token: str) -> str:
    ctx = get_ctx(request)
    payout_id = service.payout_of_token(token, ctx.settings.signing_keys())
    if payout_id is None:
        raise HTTPException(401, "this callback URL is not one the engine handed out")
    return payout_id


def _malformed(reason: str) -> NoReturn:
    raise HTTPException(400, f"malformed result: {reason}")


async def _json_body(request: Request) -> dict[str, Any]:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > PROVIDER_RESULT_BODY_LIMIT:
            raise HTTPException(413, f"body larger than {PROVIDER_RESULT_BODY_LIMIT} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        _malformed("the body is not JSON")
    if not isinstance(body, dict):
        _malformed("the body is not a JSON object")
    try:
        refuse_nul_in_json(body)
    except ValueError:
        _malformed("a string holds a NUL character or a lone surrogate")
    return body


_HOOK_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _answer(report: service.ResultReport) -> dict[str, Any]:
    if report.outcome is service.ResultOutcome.UNKNOWN_REFERENCE:
        raise UnknownReference(report.detail or "no payout has this reference; recorded")
    if report.outcome is service.ResultOutcome.REFUSED:
        raise ResultRefused(report.detail or "result refused; recorded")
    # Daraja reads ResultCode/ResultDesc; MoMo only the status.
    return {
        "ResultCode": 0,
        "ResultDesc": "Accepted",
        "outcome": report.outcome.value,
        "payout_id": report.payout_id,
        "state": report.state,
    }


def _for_provider(
    uow: UnitOfWork, provider: str, result: service.ProviderResult
) -> service.ProviderResult:
    """A token names a payout, not a provider: a result for one provider's payout sent to
    another provider's route is recorded, never applied."""
    payout = uow.payouts.payout(result.payout_id) if result.payout_id else None
    if payout is None or payout.provider == provider:
        return result
    return replace(
        result,
        payout_id=None,
        status=SendOutcome.UNKNOWN,
        reference=payout.id,
        amount=None,
        detail=f"a result for a {payout.provider} payout sent to the {provider} route",
    )


def _apply_on_route(
    uow: UnitOfWork, provider: str, result: service.ProviderResult
) -> service.ResultReport:
    return service.apply_result(uow, _for_provider(uow, provider, result))


async def _apply(request: Request, result: service.ProviderResult, provider: str) -> dict[str, Any]:
    ctx = get_ctx(request)
    report = await run_unit_of_work(ctx, _apply_on_route, provider, result)
    return _answer(report)


@hooks_router.post(
    "/mpesa/result/{token}",
    summary="M-Pesa B2C result (Daraja ResultURL)",
    openapi_extra=_HOOK_BODY,
)
async def mpesa_result(request: Request, token: str) -> dict[str, Any]:
    payout_id = _payout_of(request, token)
    body = await _json_body(request)
    try:
        parsed = parse_result(body)
    except MalformedResult as error:
        _malformed(str(error))
    if parsed.originator_id != payout_id:
        foreign = _foreign(parsed.originator_id, body, "mpesa_result")
        return await _apply(request, foreign, "mpesa")
    result = service.ProviderResult(
        channel="mpesa_result",
        payout_id=payout_id,
        status=SendOutcome.CONFIRMED if parsed.confirmed else SendOutcome.FAILED,
        reference=parsed.conversation_id,
        transaction_id=parsed.transaction_id,
        code=parsed.result_code,
        detail=parsed.result_desc,
        body=body,
    )
    report = await run_unit_of_work(
        get_ctx(request), _apply_whole_units, result, parsed.amount_whole
    )
    return _answer(report)


def _apply_whole_units(
    uow: UnitOfWork, result: service.ProviderResult, whole: int | None
) -> service.ResultReport:
    """Daraja reports whole shillings: the amount in the payout's currency, checked."""
    result = _for_provider(uow, "mpesa", result)
    payout = uow.payouts.payout(result.payout_id or "")
    if payout is not None and whole is not None:
        unit = 10 ** minor_unit_digits(payout.currency)
        result = replace(result, amount=Money(payout.currency, whole * unit))
    return service.apply_result(uow, result)


def _foreign(reference: str, body: dict[str, Any], channel: str) -> service.ProviderResult:
    # A result whose body names another payout than its URL: recorded, never applied.
    return service.ProviderResult(
        channel=channel,
        payout_id=None,
        status=SendOutcome.UNKNOWN,
        reference=reference[:200],
        detail="the body names another payout than its callback URL",
        body=body,
    )


@hooks_router.post(
    "/mpesa/timeout/{token}",
    summary="M-Pesa B2C queue timeout (Daraja QueueTimeOutURL)",
    openapi_extra=_HOOK_BODY,
)
async def mpesa_timeout(request: Request, token: str) -> dict[str, Any]:
    payout_id = _payout_of(request, token)
    body = await _json_body(request)
    # A queue timeout does not say whether the payment happened: the payout stays open
    # (unknown) and is sent again with the same OriginatorConversationID, which Daraja
    # answers without paying twice.
    return await _apply(
        request,
        service.ProviderResult(
            channel="mpesa_timeout",
            payout_id=payout_id,
            status=SendOutcome.UNKNOWN,
            detail="queue timeout",
            body=body,
        ),
        "mpesa",
    )


@hooks_router.post(
    "/momo/{token}",
    summary="MTN MoMo transfer result (X-Callback-Url)",
    openapi_extra=_HOOK_BODY,
)
@hooks_router.put(
    "/momo/{token}",
    summary="MTN MoMo transfer result (MoMo may call back with PUT as well as POST)",
    openapi_extra=_HOOK_BODY,
)
async def momo_result(request: Request, token: str) -> dict[str, Any]:
    payout_id = _payout_of(request, token)
    body = await _json_body(request)
    try:
        status = parse_status(body)
    except MalformedStatus as error:
        _malformed(str(error))
    if status.external_id is not None and status.external_id != payout_id:
        return await _apply(request, _foreign(status.external_id, body, "momo"), "mtn_momo")
    ctx = get_ctx(request)
    report = await run_unit_of_work(ctx, _apply_momo, payout_id, status, body)
    return _answer(report)


def _apply_momo(
    uow: UnitOfWork, payout_id: str, status: MomoStatus, body: dict[str, Any]
) -> service.ResultReport:
    payout = uow.payouts.payout(payout_id)
    amount = None
    if payout is not None and status.amount is not None:
        try:
            amount = parse_amount(status.amount, status.currency or payout.currency)
        except MoneyError:
            # Unreadable (or not an ISO 4217 currency): refused as not the payout's amount.
            amount = Money(payout.currency, 0)
    outcome = {
        "SUCCESSFUL": SendOutcome.CONFIRMED,
        "FAILED": SendOutcome.FAILED,
        "PENDING": SendOutcome.PENDING,
    }[status.status]
    return _apply_on_route(
        uow,
        "mtn_momo",
        service.ProviderResult(
            channel="momo",
            payout_id=payout_id,
            status=outcome,
            amount=amount,
            reference=payout_id,
            transaction_id=status.transaction_id,
            code=status.status,
            detail=status.reason,
            body=body,
        ),
    )
