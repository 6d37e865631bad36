"""/docs loads nothing from the internet: every script, style and icon it names is ours."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from engine.api.offline_docs import serve_docs_offline


def _client(root_path: str = "") -> TestClient:
    app = FastAPI(title="Kazi", docs_url=None, redoc_url=None)

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    serve_docs_offline(app)
    return TestClient(app, root_path=root_path)


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(
        r"""url: ?["']([^"']+)["']""", html
    )


def test_docs_page_names_only_local_assets_and_each_is_served() -> None:
    client = _client()
    page = client.get("/docs")
    assert page.status_code == 200
    urls = _asset_urls(page.text)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls)
    assert any(u.endswith("swagger-ui.css") for u in urls)
    assert not [u for u in urls if "//" in u], urls  # no CDN, no absolute link
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert "/ping" in client.get("/openapi.json").json()["paths"]


def test_docs_behind_a_path_prefix_name_prefixed_assets() -> None:
    page = _client("/kazi").get("/docs")
    urls = _asset_urls(page.text)
    assert urls and all(u.startswith("/kazi/") for u in urls), urls
