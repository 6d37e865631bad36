"""The engine's effective secrets: the signing secret, the webhook secret and the data key.

Explicit ``KAZI_*`` values win. In embedded mode (no database URL, no broker URL, the local
object store) a missing secret is generated once, ``secrets.token_urlsafe(32)``, and kept in
``<var_dir>/secrets/<name>`` (mode 0600), so the API, the workers and the CLI of one checkout
agree. As soon as a production part is configured, a missing, known-default or short secret is
refused with a message that names the variable and how to make one: such a deployment must
never sign with a value an attacker can guess or share with a dev checkout.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.errors import KaziError
from engine.settings import Settings

MIN_SECRET_BYTES = 32
MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
SECRETS_FOLDER = "secrets"

# Values this project shipped as defaults or placeholders: never accepted as a key.
KNOWN_DEFAULTS = frozenset(
    {
        "kazi-dev-signing-secret",
        "kazi-dev-webhook-secret",
        "change-me-long-random-string",
        "change-me-webhook-secret",
        "replace-me",
    }
)


class InsecureSecrets(KaziError):
    """A secret is missing, a known default or too short where the engine may not invent one."""

    status = 500
    code = "insecure_secrets"


@dataclass(frozen=True)
class SecretSetting:
    field: str  # the Settings field (and the embedded file name)
    purpose: str

    @property
    def variable(self) -> str:
        return f"KAZI_{self.field.upper()}"


SIGNING_SECRET = SecretSetting("signing_secret", "signs media links, start links and callbacks")
WEBHOOK_SECRET = SecretSetting("webhook_secret", "authenticates Label Studio webhooks")
DATA_KEY = SecretSetting("data_key", "encrypts Label Studio worker tokens at rest")
SECRET_SETTINGS = (SIGNING_SECRET, WEBHOOK_SECRET, DATA_KEY)
# Older keys, accepted for verifying or decrypting only (rotation).
PREVIOUS_KEYS = {
    SIGNING_SECRET.field: "signing_secret_previous",
    DATA_KEY.field: "data_key_previous",
}


def production_parts(settings: Settings) -> list[str]:
    """The configured production parts (empty in embedded mode)."""
    parts = []
    if settings.database_url:
        parts.append("KAZI_DATABASE_URL")
    if settings.broker_url:
        parts.append("KAZI_BROKER_URL")
    if settings.store_backend != "local":
        parts.append(f"KAZI_STORE_BACKEND={settings.store_backend}")
    return parts


def is_embedded(settings: Settings) -> bool:
    return not production_parts(settings)


def split_keys(value: str) -> list[str]:
    """A comma-separated list of keys (``KAZI_*_PREVIOUS``), blanks dropped."""
    return [key.strip() for key in value.split(",") if key.strip()]


def weakness(value: str) -> str | None:
    """Why ``value`` may not be a production key, or None when it may."""
    if not value:
        return "is not set"
    if value in KNOWN_DEFAULTS:
        return "is a published default"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def resolve_secrets(settings: Settings) -> Settings:
    """``settings`` with the effective secrets filled in; raises ``InsecureSecrets``.

    Embedded mode generates missing ones (and replaces published defaults) under var_dir.
    """
    parts = production_parts(settings)
    problems: list[str] = []
    resolved: dict[str, str] = {}
    for secret in SECRET_SETTINGS:
        value = getattr(settings, secret.field).strip()
        if parts:
            reason = weakness(value)
            if reason:
                problems.append(f"{secret.variable} ({secret.purpose}) {reason}")
        elif not value or value in KNOWN_DEFAULTS:
            value = _embedded_secret(settings.var_dir, secret)
        resolved[secret.field] = value
    for previous_field in PREVIOUS_KEYS.values():
        variable = f"KAZI_{previous_field.upper()}"
        for index, key in enumerate(split_keys(getattr(settings, previous_field)), 1):
            reason = weakness(key) if parts else _default_only(key)
            if reason:
                problems.append(f"{variable} key {index} {reason}")
    if problems:
        where = f" while {', '.join(parts)} is set" if parts else ""
        raise InsecureSecrets(
            f"refusing to start with weak secrets{where}: "
            + "; ".join(problems)
            + f". Set each to 32+ random bytes; make one with: {MAKE_ONE}"
        )
    return settings.model_copy(update=resolved)


def _default_only(key: str) -> str | None:
    return "is a published default" if key in KNOWN_DEFAULTS else None


def secret_path(var_dir: Path, secret: SecretSetting) -> Path:
    return (var_dir / SECRETS_FOLDER / secret.field).resolve()


def _embedded_secret(var_dir: Path, secret: SecretSetting) -> str:
    """The secret kept under var_dir, made on first use. Several processes may start at once:
    the file appears complete or not at all (written aside, then hard-linked into place), and
    whoever links second reads the winner's value."""
    path = secret_path(var_dir, secret)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(MIN_SECRET_BYTES) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    return _read_private(path, secret)


def _read_private(path: Path, secret: SecretSetting) -> str:
    info = path.stat()
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InsecureSecrets(
            f"{path} ({secret.variable}) can be read by other users; run: chmod 600 {path}"
        )
    value = path.read_text().strip()
    if weakness(value):
        raise InsecureSecrets(
            f"{path} ({secret.variable}) does not hold a usable key; delete it to make a new "
            f"one, or set {secret.variable} (make one with: {MAKE_ONE})"
        )
    return value


def _set_or_embedded(settings: Settings, secret: SecretSetting, value: str, hint: str) -> str:
    """``value`` when it is set and not a published default; in embedded mode one generated
    under var_dir; anywhere else refused with the variable's name and ``hint``."""
    value = value.strip()
    if value and value not in KNOWN_DEFAULTS:
        return value
    if is_embedded(settings):
        return _embedded_secret(settings.var_dir, secret)
    reason = "is a published default" if value else "is not set"
    raise InsecureSecrets(f"{secret.variable} ({secret.purpose}) {reason}; {hint}")


def provider_credential(settings: Settings, field: str, value: str, purpose: str) -> str:
    """A payout provider's credential (``KAZI_MPESA_CONSUMER_KEY``, ...), from the environment
    only. Embedded mode (the demo, against engine/demo/fake_providers.py) may leave it unset and
    gets one generated under var_dir like the other secrets; anywhere else a missing one is
    refused with the variable's name. Provider credentials have their own formats, so only
    presence and the published defaults are checked."""
    return _set_or_embedded(
        settings, SecretSetting(field, purpose), value, "set it from the provider"
    )


STATEMENT_SIGNING_KEY = SecretSetting(
    "statement_signing_key", "signs workers' income statements (Ed25519)"
)
MAKE_ED25519_KEY = 'python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"'


def statement_signing_key(settings: Settings, value: str) -> str:
    """The text of the Ed25519 key that signs income statements (``KAZI_STATEMENT_SIGNING_KEY``:
    a PEM private key, or its 32 raw bytes in base64). Embedded mode may leave it unset and gets
    one generated under var_dir like the other secrets (32 random bytes, base64url); anywhere
    else a missing one is refused with the variable's name. Its format is checked where it is
    loaded (engine/statements/keys.py)."""
    return _set_or_embedded(
        settings, STATEMENT_SIGNING_KEY, value, f"make one with: {MAKE_ED25519_KEY}"
    )
