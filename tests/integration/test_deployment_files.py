"""docker-compose.yml and configs/example.env only name settings the engine knows."""

from __future__ import annotations

import re
import shutil
import subprocess

import yaml

from engine.billing.billing_settings import BillingSettings
from engine.ledger.pay_policy import PayPolicy
from engine.payouts.payout_settings import PayoutSettings
from engine.settings import Settings
from engine.statements.keys import StatementKeySettings
from tests.conftest import REPO_ROOT

# Every settings class reads KAZI_-prefixed variables.
FIELDS = {
    name.upper()
    for model in (Settings, PayPolicy, PayoutSettings, BillingSettings, StatementKeySettings)
    for name in model.model_fields
}


def _kazi_vars(text: str) -> set[str]:
    return set(re.findall(r"\bKAZI_([A-Z0-9_]+)\b", text))


def test_compose_and_example_env_use_known_settings():
    compose = (REPO_ROOT / "docker-compose.yml").read_text()
    env = (REPO_ROOT / "configs" / "example.env").read_text()
    assert _kazi_vars(env) <= FIELDS, _kazi_vars(env) - FIELDS
    doc = yaml.safe_load(compose)
    service_env = doc["x-kazi"]["environment"]
    assert {k.removeprefix("KAZI_") for k in service_env} <= FIELDS
    assert {
        "api",
        "worker-ingest",
        "worker-asr",
        "postgres",
        "redis",
        "minio",
        "label-studio",
    } <= set(doc["services"])


def test_compose_file_validates_when_compose_is_installed(tmp_path):
    tool = shutil.which("docker-compose")
    if tool is None:
        import pytest

        pytest.skip("docker-compose is not installed on this machine")
    (tmp_path / ".env").write_text((REPO_ROOT / "configs" / "example.env").read_text())
    proc = subprocess.run(
        [
            tool,
            "--project-directory",
            str(tmp_path),
            "-f",
            str(REPO_ROOT / "docker-compose.yml"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
