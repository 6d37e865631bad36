"""Settings of the worker app (environment variables KAZI_APP_*)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAZI_APP_", env_file=".env", extra="ignore")

    # A session ends this long after login, however active (absolute expiry) ...
    session_hours: int = 12
    # ... or after this long without a request (idle expiry).
    idle_minutes: int = 120
    login_code_hours: int = 72
    # Browsers accept Secure cookies on http://127.0.0.1 and http://localhost; turn it off only
    # for a plain-http address other than those (a LAN test box).
    cookie_secure: bool = True
    heartbeat_seconds: int = 60
    # Failed login attempts one client address may make per window before it is refused (429).
    # Generous: a classroom behind one NAT address shares it, and 49-bit codes stay unguessable
    # at this rate (50 per 15 min is under 5000 a day).
    login_failures_allowed: int = 50
    login_failure_window_minutes: int = 15

    @property
    def session_length(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    @property
    def idle_timeout(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)

    @property
    def login_code_lifetime(self) -> timedelta:
        return timedelta(hours=self.login_code_hours)

    @property
    def login_failure_window(self) -> timedelta:
        return timedelta(minutes=self.login_failure_window_minutes)


@lru_cache
def get_app_settings() -> AppSettings:
    return AppSettings()
