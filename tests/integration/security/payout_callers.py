"""Credentials of the pay callers for the security suite: a staff key made the way
``kazi staff add`` makes one, and real payouts (one M-Pesa, one MoMo) paid through the local
fake providers, whose result URLs carry the callback tokens the engine hands out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.demo.fake_providers import FakeProviders
from engine.payouts import service
from engine.payouts.providers.http import loopback_client
from engine.payouts.providers.registry import ProviderRegistry
from tests.integration.payouts.conftest import Payouts, payout_settings_for


def staff_auth(ctx: Any) -> dict[str, str]:
    """A new staff member's key, as ``kazi staff add NAME`` issues it."""
    from engine.staff.service import add_staff

    issued = ctx.in_unit_of_work(add_staff, f"sec-{uuid.uuid4().hex[:10]}")
    return {"Authorization": f"Bearer {issued.api_key}"}


@dataclass(frozen=True)
class SentPayout:
    payout_id: str
    result_path: str  # the path of the result URL the engine gave the provider
    result_body: dict[str, Any]  # the result the fake provider would post there
    timeout_path: str  # M-Pesa's QueueTimeOutURL (the same token), else ""


@dataclass(frozen=True)
class PaidOut:
    mpesa_batch: str
    mpesa: SentPayout
    momo: SentPayout


def paid_out(ctx: Any) -> PaidOut:
    """Two funded workers paid in two runs: their payouts wait for the providers' results."""
    with FakeProviders() as fake:
        settings = payout_settings_for(fake)
        registry = ProviderRegistry(ctx.settings, settings, client=loopback_client())
        payouts = Payouts(ctx, fake, settings, registry)
        sent = {}
        batches = {}
        for provider, currency in (("mpesa", "KES"), ("mtn_momo", "UGX")):
            worker_id, _ = payouts.worker(currency, 20_000, provider=provider)
            batches[provider] = payouts.run(currency, [worker_id]).batch_id
            [payout] = payouts.payouts_of(worker_id)
            [callback] = fake.take_callbacks()
            timeout = payouts.urls.timeout_url(provider, payout.id) if provider == "mpesa" else ""
            sent[provider] = SentPayout(
                payout.id,
                urlsplit(callback.url).path,
                callback.body,
                urlsplit(timeout).path,
            )
    return PaidOut(batches["mpesa"], sent["mpesa"], sent["mtn_momo"])


def forged_token(payout_id: str) -> str:
    """A token of the right shape whose HMAC the engine never made."""
    return f"{payout_id}.{'0' * 40}"


def token_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


def valid_token(ctx: Any, payout_id: str) -> str:
    return service.callback_token(payout_id, ctx.settings.signing_secret)
