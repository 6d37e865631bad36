"""Payout fixtures: the local fake providers, adapters pointed at them, funded workers with
confirmed methods (PostgreSQL: the session database of tests/conftest.py)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest

from engine.demo.fake_providers import FakeCallback, FakeProviders
from engine.domain.ledger import AccountKind, AccountRef, TransactionKind, Transfer, entry
from engine.domain.payout_plan import programme_funds
from engine.payouts import service
from engine.payouts.payout_settings import PayoutSettings
from engine.payouts.providers.http import loopback_client
from engine.payouts.providers.registry import ProviderRegistry


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as running:
        yield running


def payout_settings_for(fake: FakeProviders, **overrides: Any) -> PayoutSettings:
    c = fake.credentials
    values: dict[str, Any] = {
        "benefits_share_bps": 500,
        "benefits_match_bps": 0,
        "method_change_hold_hours": 48,
        "provider_timeout_seconds": 5.0,
        "mpesa_base_url": fake.base_url,
        "mpesa_consumer_key": c.mpesa_consumer_key,
        "mpesa_consumer_secret": c.mpesa_consumer_secret,
        "mpesa_security_credential": c.mpesa_security_credential,
        "momo_base_url": fake.base_url,
        "momo_subscription_key": c.momo_subscription_key,
        "momo_api_user": c.momo_api_user,
        "momo_api_key": c.momo_api_key,
    }
    values.update(overrides)
    return PayoutSettings(**values)


@dataclass
class Payouts:
    """What a payout test needs: the context, the fake, the adapters, helpers."""

    ctx: Any
    fake: FakeProviders
    settings: PayoutSettings
    registry: ProviderRegistry

    @property
    def urls(self) -> service.CallbackUrls:
        return service.CallbackUrls("http://testserver", self.ctx.settings.signing_secret)

    def worker(
        self,
        currency: str,
        balance: int,
        provider: str = "mpesa",
        msisdn: str | None = None,
        confirm: bool = True,
    ) -> tuple[str, str]:
        """A worker with ``balance`` available and a (confirmed) method: (id, msisdn)."""
        from engine.workforce.service import register_worker

        created = self.ctx.in_unit_of_work(register_worker, f"pay-{uuid.uuid4().hex[:10]}")
        number = msisdn or random_msisdn(provider)
        self.ctx.in_unit_of_work(
            service.register_method,
            created.id,
            provider,
            number,
            "Test Worker",
            self.ctx.token_cipher,
        )
        if confirm:
            with self.ctx.uow() as uow:
                code = service.pending_code(uow, created.id, self.ctx.token_cipher)
            assert code is not None
            done = self.ctx.in_unit_of_work(
                service.confirm_method, created.id, code, self.ctx.token_cipher, self.settings
            )
            assert done.outcome is service.ConfirmOutcome.CONFIRMED
        if balance:
            self.fund(created.id, currency, balance)
        return created.id, number

    def fund(self, worker_id: str, currency: str, amount: int) -> None:
        funded = entry(
            f"test-fund:{uuid.uuid4()}",
            TransactionKind.RELEASE_HOLD,
            Transfer(programme_funds(currency), available(worker_id, currency), amount),
        )
        self.ctx.in_unit_of_work(lambda uow: uow.ledger.post(funded))

    def run(self, currency: str, workers: list[str], **kw: Any) -> service.RunReport:
        request = service.RunRequest(currency, **kw)
        return service.run_payouts(
            self.ctx.uow,
            request,
            self.registry,
            self.settings,
            self.ctx.token_cipher,
            self.urls,
            worker_ids=workers,
        )

    def balance(self, ref: AccountRef) -> int:
        with self.ctx.uow() as uow:
            return int(uow.ledger.balance(ref))

    def payouts_of(self, worker_id: str) -> list[Any]:
        """The worker's payouts, as plain copies (read after the unit of work ends)."""
        with self.ctx.uow() as uow:
            rows = uow.payouts.payouts_of_worker(worker_id)
            columns = [c.key for c in rows[0].__table__.columns] if rows else []
            return [SimpleNamespace(**{k: getattr(r, k) for k in columns}) for r in rows]

    def deliver(self, api: Any, callbacks: list[FakeCallback] | None = None) -> list[Any]:
        """Post the fake's queued results to the app (through the test client)."""
        answers = []
        for callback in callbacks if callbacks is not None else self.fake.take_callbacks():
            answers.append(api.post(urlsplit(callback.url).path, json=callback.body))
        return answers


def available(worker_id: str, currency: str) -> AccountRef:
    return AccountRef(AccountKind.WORKER_AVAILABLE, worker_id, currency)


def benefits(worker_id: str, currency: str) -> AccountRef:
    return AccountRef(AccountKind.WORKER_BENEFITS, worker_id, currency)


def in_transit(provider: str, currency: str) -> AccountRef:
    return AccountRef(AccountKind.PROVIDER_IN_TRANSIT, provider, currency)


def random_msisdn(provider: str = "mpesa") -> str:
    if provider == "mtn_momo":
        return f"+25677{secrets.randbelow(10**7):07d}"
    return f"+25471{secrets.randbelow(10**7):07d}"


@pytest.fixture
def payouts(ctx: Any, fake: FakeProviders) -> Payouts:
    settings = payout_settings_for(fake)
    registry = ProviderRegistry(ctx.settings, settings, client=loopback_client())
    return Payouts(ctx, fake, settings, registry)


@pytest.fixture
def staff_auth(ctx: Any) -> dict[str, str]:
    from engine.staff.service import add_staff

    issued = ctx.in_unit_of_work(add_staff, f"staff-{uuid.uuid4().hex[:8]}")
    return {"Authorization": f"Bearer {issued.api_key}"}
