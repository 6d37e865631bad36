"""Which secrets the engine runs with: generated in embedded mode, refused when weak in
production; rotation of the signing secret and the data key; worker tokens sealed at rest."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.db.models import WorkerRow
from engine.secrets import (
    DATA_KEY,
    MAKE_ONE,
    SECRET_SETTINGS,
    SIGNING_SECRET,
    InsecureSecrets,
    resolve_secrets,
    secret_path,
)
from engine.settings import Settings
from engine.storage.signed_urls import sign_media_url, verify_media_signature
from engine.work.start_links import start_link, verify_start_link
from engine.workforce.service import label_studio_token, link_label_studio_user
from engine.workforce.token_cipher import SEALED_PREFIX, TokenCipher, TokenUnreadable
from tests.unit.fakes import FakeUnitOfWork

STRONG = "s" * 32
STRONG_SECRETS = {"signing_secret": STRONG, "webhook_secret": "w" * 32, "data_key": "d" * 32}
PRODUCTION = {"database_url": "postgresql+psycopg://db/kazi"}


def settings(var_dir: Path, **values: Any) -> Settings:
    """Settings from these values only (the test session's KAZI_* environment is overridden)."""
    base: dict[str, Any] = {
        "var_dir": var_dir,
        "database_url": "",
        "broker_url": "",
        "store_backend": "local",
        "signing_secret": "",
        "signing_secret_previous": "",
        "webhook_secret": "",
        "data_key": "",
        "data_key_previous": "",
    }
    return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]


# -- embedded mode ------------------------------------------------------------------------------


def test_embedded_mode_generates_private_secrets_once_and_reuses_them(tmp_path: Path) -> None:
    first = resolve_secrets(settings(tmp_path))
    values = [getattr(first, s.field) for s in SECRET_SETTINGS]
    assert len(set(values)) == 3 and all(len(v) >= 32 for v in values)
    for secret in SECRET_SETTINGS:
        path = secret_path(tmp_path, secret)
        assert path.read_text().strip() == getattr(first, secret.field)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_path(tmp_path, SIGNING_SECRET).parent.stat().st_mode) == 0o700
    again = resolve_secrets(settings(tmp_path))
    assert [getattr(again, s.field) for s in SECRET_SETTINGS] == values
    # Nothing but the three secrets is left behind (no half-written drafts).
    assert sorted(p.name for p in secret_path(tmp_path, DATA_KEY).parent.iterdir()) == sorted(
        s.field for s in SECRET_SETTINGS
    )


def test_processes_starting_together_agree_on_one_generated_secret(tmp_path: Path) -> None:
    seen: list[str] = []
    start = threading.Barrier(8)

    def resolve() -> None:
        start.wait()
        seen.append(resolve_secrets(settings(tmp_path)).signing_secret)

    threads = [threading.Thread(target=resolve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and len(set(seen)) == 1


def test_explicit_values_win_in_embedded_mode(tmp_path: Path) -> None:
    resolved = resolve_secrets(settings(tmp_path, signing_secret="mine", webhook_secret="hook"))
    assert (resolved.signing_secret, resolved.webhook_secret) == ("mine", "hook")
    assert not secret_path(tmp_path, SIGNING_SECRET).exists()
    assert secret_path(tmp_path, DATA_KEY).exists()


def test_published_defaults_are_replaced_in_embedded_mode(tmp_path: Path) -> None:
    resolved = resolve_secrets(settings(tmp_path, signing_secret="kazi-dev-signing-secret"))
    assert resolved.signing_secret == secret_path(tmp_path, SIGNING_SECRET).read_text().strip()
    assert resolved.signing_secret != "kazi-dev-signing-secret"


def test_a_secret_file_others_can_read_is_refused(tmp_path: Path) -> None:
    resolve_secrets(settings(tmp_path))
    path = secret_path(tmp_path, SIGNING_SECRET)
    os.chmod(path, 0o644)
    with pytest.raises(InsecureSecrets, match=f"chmod 600 {path}"):
        resolve_secrets(settings(tmp_path))


# -- production mode ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "named"),
    [
        ({"database_url": "postgresql+psycopg://db/kazi"}, "KAZI_DATABASE_URL"),
        ({"broker_url": "redis://redis:6379/0"}, "KAZI_BROKER_URL"),
        ({"store_backend": "s3"}, "KAZI_STORE_BACKEND=s3"),
    ],
)
def test_production_refuses_missing_secrets_and_says_how_to_make_them(
    tmp_path: Path, part: dict[str, str], named: str
) -> None:
    with pytest.raises(InsecureSecrets) as refused:
        resolve_secrets(settings(tmp_path, **part))
    message = refused.value.message
    assert named in message and MAKE_ONE in message
    for secret in SECRET_SETTINGS:
        assert f"{secret.variable} ({secret.purpose}) is not set" in message
    assert not (tmp_path / "secrets").exists()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("kazi-dev-signing-secret", "is a published default"),
        ("change-me-long-random-string", "is a published default"),
        ("replace-me", "is a published default"),
        ("x" * 31, "is shorter than 32 bytes"),
        ("", "is not set"),
    ],
)
def test_production_refuses_weak_signing_secrets(tmp_path: Path, value: str, reason: str) -> None:
    weak = settings(tmp_path, **PRODUCTION, **{**STRONG_SECRETS, "signing_secret": value})
    with pytest.raises(InsecureSecrets) as refused:
        resolve_secrets(weak)
    assert f"KAZI_SIGNING_SECRET (signs media links, start links and callbacks) {reason}" in (
        refused.value.message
    )
    assert "KAZI_WEBHOOK_SECRET" not in refused.value.message


def test_production_accepts_32_byte_secrets_as_given(tmp_path: Path) -> None:
    resolved = resolve_secrets(settings(tmp_path, **PRODUCTION, **STRONG_SECRETS))
    assert {k: getattr(resolved, k) for k in STRONG_SECRETS} == STRONG_SECRETS
    assert not (tmp_path / "secrets").exists()


def test_previous_keys_follow_the_same_rules(tmp_path: Path) -> None:
    short = settings(tmp_path, **PRODUCTION, **STRONG_SECRETS, signing_secret_previous="p" * 40)
    assert resolve_secrets(short).signing_keys() == (STRONG, "p" * 40)
    weak = settings(
        tmp_path, **PRODUCTION, **STRONG_SECRETS, signing_secret_previous=f"{'p' * 40}, short"
    )
    with pytest.raises(InsecureSecrets, match="KAZI_SIGNING_SECRET_PREVIOUS key 2 is shorter"):
        resolve_secrets(weak)
    # Even in embedded mode, a published default never verifies anything.
    embedded = settings(tmp_path, data_key_previous="kazi-dev-signing-secret")
    with pytest.raises(InsecureSecrets, match="KAZI_DATA_KEY_PREVIOUS key 1 is a published"):
        resolve_secrets(embedded)


# -- rotation of the signing secret -------------------------------------------------------------

OLD, NEW, UNKNOWN = "o" * 32, "n" * 32, "u" * 32
EXPIRES, NOW = 2_000_000_000, 1_900_000_000.0


def _media_signature(secret: str, method: str = "GET") -> str:
    url = sign_media_url("http://x", "jobs/a.wav", method, EXPIRES, secret)
    return parse_qs(urlsplit(url).query)["signature"][0]


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_media_links_signed_with_a_previous_key_verify_after_rotation(method: str) -> None:
    rotated = settings(Path("unused"), signing_secret=NEW, signing_secret_previous=OLD)
    keys = rotated.signing_keys()
    assert keys == (NEW, OLD)
    for secret in (NEW, OLD):
        signature = _media_signature(secret, method)
        assert verify_media_signature("jobs/a.wav", method, EXPIRES, signature, keys, NOW)
    assert not verify_media_signature(
        "jobs/a.wav", method, EXPIRES, _media_signature(UNKNOWN, method), keys, NOW
    )
    # Once the old key is dropped its links stop working.
    assert not verify_media_signature(
        "jobs/a.wav", method, EXPIRES, _media_signature(OLD, method), (NEW,), NOW
    )


def test_start_links_signed_with_a_previous_key_verify_after_rotation() -> None:
    def signature(secret: str) -> str:
        return parse_qs(urlsplit(start_link("http://x", "w1", secret)).query)["signature"][0]

    assert verify_start_link("w1", signature(OLD), (NEW, OLD))
    assert verify_start_link("w1", signature(NEW), (NEW, OLD))
    assert not verify_start_link("w1", signature(UNKNOWN), (NEW, OLD))
    assert not verify_start_link("w2", signature(OLD), (NEW, OLD))
    assert not verify_start_link("w1", "é-not-hex", (NEW, OLD))
    with pytest.raises(ValueError):
        start_link("http://x", "w1", "")


# -- Label Studio tokens at rest ----------------------------------------------------------------

TOKEN = "0123456789abcdef0123456789abcdef01234567"


class FakeWorkers:
    def __init__(self, *workers: WorkerRow) -> None:
        self.rows = {w.id: w for w in workers}

    def get(self, worker_id: str, *, for_update: bool = False) -> WorkerRow | None:
        return self.rows.get(worker_id)

    def by_ls_user(self, server: str, ls_user_id: int) -> WorkerRow | None:
        found = (
            w for w in self.rows.values() if (w.ls_server, w.ls_user_id) == (server, ls_user_id)
        )
        return next(found, None)


def _worker(ls_token: str | None = None) -> WorkerRow:
    return WorkerRow(id="w1", handle="amina", key_prefix="p", key_hash="h", ls_token=ls_token)


def test_tokens_are_stored_sealed_and_read_back_in_clear() -> None:
    cipher = TokenCipher("k" * 32)
    worker = _worker()
    uow = FakeUnitOfWork(workers=FakeWorkers(worker))
    link_label_studio_user(uow, "w1", 7, "amina@workers.kazi.local", TOKEN, cipher)
    assert worker.ls_token is not None and worker.ls_token.startswith(SEALED_PREFIX)
    assert TOKEN not in worker.ls_token and len(worker.ls_token) <= 200
    assert label_studio_token(uow, "w1", cipher) == TOKEN
    with pytest.raises(TokenUnreadable, match="KAZI_DATA_KEY_PREVIOUS"):
        TokenCipher("other" * 8).open(worker.ls_token)


def test_plain_tokens_stored_before_encryption_are_sealed_when_read() -> None:
    cipher = TokenCipher("k" * 32)
    worker = _worker(ls_token=TOKEN)
    uow = FakeUnitOfWork(workers=FakeWorkers(worker))
    assert label_studio_token(uow, "w1", cipher) == TOKEN
    assert worker.ls_token is not None and worker.ls_token.startswith(SEALED_PREFIX)
    assert not cipher.needs_resealing(worker.ls_token)
    assert label_studio_token(uow, "w1", cipher) == TOKEN


def test_tokens_sealed_with_a_previous_data_key_are_resealed_with_the_current_one() -> None:
    old = TokenCipher("old-key-" * 4)
    worker = _worker(ls_token=old.seal(TOKEN))
    rotated = TokenCipher("new-key-" * 4, ["old-key-" * 4])
    uow = FakeUnitOfWork(workers=FakeWorkers(worker))
    assert label_studio_token(uow, "w1", rotated) == TOKEN
    assert worker.ls_token is not None
    # Readable with the new key alone now: the old key can be dropped.
    assert TokenCipher("new-key-" * 4).open(worker.ls_token) == TOKEN
    with pytest.raises(TokenUnreadable):
        old.open(worker.ls_token)
