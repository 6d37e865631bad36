"""Build the provider adapters from settings: base URLs from KAZI_MPESA_BASE_URL /
KAZI_MOMO_BASE_URL, credentials from the environment (engine.secrets.provider_credential)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from engine.payouts.payout_settings import PayoutSettings
from engine.payouts.providers import PayoutProvider, ProviderNotConfigured
from engine.payouts.providers.http import Fetcher, provider_client
from engine.payouts.providers.mpesa_b2c import MpesaB2C
from engine.payouts.providers.mtn_momo import MtnMomoDisbursement
from engine.secrets import provider_credential
from engine.settings import Settings


class ProviderRegistry:
    """``provider_for(name)``: one adapter per provider for this process (tokens are cached)."""

    def __init__(
        self, settings: Settings, payouts: PayoutSettings, client: Fetcher | None = None
    ) -> None:
        self.settings, self.payouts = settings, payouts
        self.client = client
        self._cached = cache(self._build)

    def __call__(self, name: str) -> PayoutProvider:
        return self._cached(name)

    def currencies(self) -> Mapping[str, frozenset[str]]:
        """What each API provider pays, as its adapter declares it (no credentials needed);
        CSV providers are not named: they pay any currency."""
        mpesa = MpesaB2C.currencies
        assert mpesa is not None
        return {"mpesa": mpesa, "mtn_momo": self.payouts.momo_currency_set}

    def _build(self, name: str) -> PayoutProvider:
        s, p = self.settings, self.payouts
        if name == "mpesa":
            if not p.mpesa_base_url:
                raise ProviderNotConfigured("set KAZI_MPESA_BASE_URL to pay through M-Pesa")
            return MpesaB2C(
                p.mpesa_base_url,
                provider_credential(
                    s, "mpesa_consumer_key", p.mpesa_consumer_key, "Daraja app key"
                ),
                provider_credential(
                    s, "mpesa_consumer_secret", p.mpesa_consumer_secret, "Daraja app secret"
                ),
                provider_credential(
                    s,
                    "mpesa_security_credential",
                    p.mpesa_security_credential,
                    "the B2C initiator's encrypted password",
                ),
                p.mpesa_initiator_name,
                p.mpesa_shortcode,
                self.client or provider_client(s, p.mpesa_base_url),
                timeout=p.provider_timeout_seconds,
                b2c_path=p.mpesa_b2c_path,
            )
        if name == "mtn_momo":
            if not p.momo_base_url:
                raise ProviderNotConfigured("set KAZI_MOMO_BASE_URL to pay through MTN MoMo")
            return MtnMomoDisbursement(
                p.momo_base_url,
                provider_credential(
                    s, "momo_subscription_key", p.momo_subscription_key, "MoMo subscription key"
                ),
                provider_credential(s, "momo_api_user", p.momo_api_user, "MoMo API user"),
                provider_credential(s, "momo_api_key", p.momo_api_key, "MoMo API key"),
                self.client or provider_client(s, p.momo_base_url),
                target_environment=p.momo_target_environment,
                timeout=p.provider_timeout_seconds,
                currencies=p.momo_currency_set,
            )
        raise ProviderNotConfigured(f"no payout adapter for {name!r}")
