"""Where embedded state lives and which URL the API hands out links on."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.settings import Settings, default_var_dir, listen_public_url


@pytest.fixture
def no_kazi_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.delenv("KAZI_VAR_DIR", raising=False)
    monkeypatch.delenv("KAZI_PUBLIC_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    return monkeypatch


def test_var_dir_is_one_per_user_folder_whatever_the_current_directory(
    no_kazi_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_kazi_env.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    here = Settings().var_dir
    (tmp_path / "elsewhere").mkdir()
    no_kazi_env.chdir(tmp_path / "elsewhere")
    assert Settings().var_dir == here == default_var_dir()
    assert here.is_absolute()
    assert here == tmp_path / "data-home" / "kazi"


def test_kazi_var_dir_overrides_the_per_user_folder(
    no_kazi_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_kazi_env.setenv("KAZI_VAR_DIR", str(tmp_path / "state"))
    assert Settings().var_dir == tmp_path / "state"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 18100, "http://127.0.0.1:18100"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),
        ("::", 9000, "http://[::1]:9000"),
        ("fd00::5", 9000, "http://[fd00::5]:9000"),
        ("kazi.internal", 8001, "http://kazi.internal:8001"),
    ],
)
def test_the_public_url_follows_the_listen_address(
    no_kazi_env: pytest.MonkeyPatch, host: str, port: int, expected: str
) -> None:
    assert listen_public_url(Settings(), host, port) == expected


def test_a_configured_public_url_wins_over_the_listen_address(
    no_kazi_env: pytest.MonkeyPatch,
) -> None:
    no_kazi_env.setenv("KAZI_PUBLIC_URL", "https://kazi.example.org")
    assert listen_public_url(Settings(), "127.0.0.1", 18100) == "https://kazi.example.org"
