"""`kazi serve --port N` / `kazi up` hand out links on the port they listen on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.service_commands import _listen_address
from engine.settings import get_settings


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    # Set first, so that the value the code under test writes is undone afterwards too.
    monkeypatch.setenv("KAZI_PUBLIC_URL", "")
    monkeypatch.delenv("KAZI_PUBLIC_URL")
    monkeypatch.delenv("KAZI_API_HOST", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_serve_on_another_port_hands_out_links_on_that_port(fresh_settings: None) -> None:
    assert _listen_address(None, 18100) == ("127.0.0.1", 18100)
    assert get_settings().public_url == "http://127.0.0.1:18100"
    assert os.environ["KAZI_PUBLIC_URL"] == "http://127.0.0.1:18100"  # for the worker it starts
    assert get_settings().webhook_url() == "http://127.0.0.1:18100/v1/hooks/label-studio"


def test_a_set_public_url_is_kept(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAZI_PUBLIC_URL", "https://kazi.example.org")
    assert _listen_address("0.0.0.0", 18100) == ("0.0.0.0", 18100)
    assert get_settings().public_url == "https://kazi.example.org"
