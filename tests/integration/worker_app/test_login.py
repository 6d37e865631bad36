"""Logging in to the worker app: one-time codes and links, the session cookie, CSRF, logout,
expiry and the guessing limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.worker_app.app_settings import AppSettings
from engine.worker_app.login_code import grouped
from tests.integration.worker_app.conftest import AppWorker, csrf_of, issue_code, log_in


def _set_cookies(resp: Any) -> dict[str, Any]:
    jar: SimpleCookie = SimpleCookie()
    for header in resp.headers.get_list("set-cookie"):
        jar.load(header)
    return dict(jar)


def test_a_code_logs_in_once_with_a_locked_down_cookie(
    app_client: TestClient, ctx: Any, make_worker: Any
) -> None:
    worker: AppWorker = make_worker()
    code = issue_code(ctx, worker.handle)
    app_client.cookies.clear()
    # The printed link shows a button; the GET itself logs nobody in.
    link = app_client.get(f"/app/login/{code}")
    assert link.status_code == 200 and "kazi_app" not in link.headers.get("set-cookie", "")
    assert f'value="{code}"' in link.text and grouped(code) in link.text
    assert link.headers["referrer-policy"] == "same-origin"  # the code stays on this site

    resp = app_client.post(
        "/app/login", data={"code": grouped(code).lower(), "next": "/app/earnings"},
        follow_redirects=False,
    )  # fmt: skip
    assert resp.status_code == 303 and resp.headers["location"] == "/app/earnings"
    cookie = _set_cookies(resp)["kazi_app"]
    assert cookie["httponly"] and cookie["secure"] and cookie["path"] == "/app"
    assert cookie["samesite"].lower() == "lax"
    assert int(cookie["max-age"]) == 12 * 3600
    home = app_client.get("/app")
    assert home.status_code == 200 and worker.handle in home.text

    # Used: the same code again is refused, and says so in plain words.
    app_client.cookies.clear()
    again = app_client.post("/app/login", data={"code": code}, follow_redirects=False)
    assert again.status_code == 403 and 'id="login-error"' in again.text


def test_a_new_code_revokes_the_older_unused_one(
    ctx: Any, app_client: TestClient, make_worker: Any
) -> None:
    worker = make_worker()
    first = issue_code(ctx, worker.handle)
    second = issue_code(ctx, worker.handle)
    app_client.cookies.clear()
    assert (
        app_client.post("/app/login", data={"code": first}, follow_redirects=False).status_code
        == 403
    )
    assert (
        app_client.post("/app/login", data={"code": second}, follow_redirects=False).status_code
        == 303
    )


def test_an_expired_code_is_refused(ctx: Any, make_worker: Any) -> None:
    from engine.worker_app.sessions import LoginCodeRefused, issue_login_code, redeem_login_code

    worker = make_worker()
    settings = AppSettings(login_code_hours=1)
    then = datetime.now(UTC) - timedelta(hours=2)
    code, path = ctx.in_unit_of_work(issue_login_code, worker.handle, then, settings)
    assert path == f"/app/login/{code}"
    with pytest.raises(LoginCodeRefused):
        ctx.in_unit_of_work(redeem_login_code, code, datetime.now(UTC), settings)


def test_sessions_end_when_idle_at_their_absolute_expiry_and_at_logout(
    ctx: Any, app_client: TestClient, make_worker: Any
) -> None:
    from engine.worker_app.sessions import redeem_login_code, session_for_token

    worker = make_worker()
    settings = AppSettings(session_hours=2, idle_minutes=30)
    start = datetime.now(UTC)
    token, session = ctx.in_unit_of_work(
        redeem_login_code, issue_code(ctx, worker.handle), start, settings
    )
    assert session.expires_at == start + timedelta(hours=2)

    def alive(at: datetime) -> bool:
        return ctx.in_unit_of_work(session_for_token, token, at, settings) is not None

    # Each request slides the idle expiry; the absolute one does not move.
    for minutes in (25, 50, 75, 100):
        assert alive(start + timedelta(minutes=minutes))
    assert not alive(start + timedelta(minutes=100 + 31))  # idle too long
    token2, _ = ctx.in_unit_of_work(
        redeem_login_code, issue_code(ctx, worker.handle), start, settings
    )
    assert all(
        ctx.in_unit_of_work(session_for_token, token2, start + timedelta(minutes=m), settings)
        for m in (29, 58, 87, 116)
    )
    assert (
        ctx.in_unit_of_work(session_for_token, token2, start + timedelta(minutes=121), settings)
        is None
    )

    # Logout: the cookie goes, and the token stops working even if a copy is kept.
    csrf = log_in(app_client, ctx, worker.handle)
    kept = app_client.cookies.get("kazi_app")
    out = app_client.post("/app/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/app/login"
    assert _set_cookies(out)["kazi_app"].value == ""
    app_client.cookies.clear()
    again = app_client.get("/app", headers={"Cookie": f"kazi_app={kept}"}, follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"] == "/app/login?next=/app"


@pytest.mark.parametrize(
    ("path", "data", "headers"),
    [
        ("/app/logout", {}, {}),
        ("/app/logout", {"csrf_token": "not-the-token"}, {}),
        ("/app/language", {"locale": "sw"}, {}),
        ("/app/language", {"locale": "sw", "csrf_token": ""}, {}),
        ("/app/language", {"locale": "sw"}, {"X-CSRF-Token": "wrong"}),
    ],
)
def test_a_post_without_the_sessions_csrf_token_is_refused(
    ctx: Any,
    app_client: TestClient,
    make_worker: Any,
    path: str,
    data: dict[str, str],
    headers: dict[str, str],
) -> None:
    worker = make_worker()
    log_in(app_client, ctx, worker.handle)
    resp = app_client.post(path, data=data, headers=headers, follow_redirects=False)
    assert resp.status_code == 403, resp.text
    assert 'id="error-message"' in resp.text
    # Nothing changed: still logged in, still in English.
    assert app_client.get("/app").status_code == 200
    assert '<html lang="en"' in app_client.get("/app").text


@pytest.mark.parametrize(
    ("data", "status", "content_type"),
    [
        ({"code": ""}, 400, None),
        ({"code": "ABCDE"}, 400, None),
        ({"code": "ABCDE-FGHJK-MNPQR"}, 400, None),
        ({"code": "0O1IL-0O1IL"}, 400, None),  # letters the alphabet leaves out
        ({"code": "x" * 5000}, 400, None),
        ({"code": "ZZZZZ-ZZZZZ"}, 403, None),  # well formed, no such code
        ({}, 415, None),  # no form at all
        ({"code": "ABCDEFGHJK"}, 415, "application/json"),
    ],
)
def test_bad_login_input_gets_a_clear_4xx(
    app_client: TestClient, data: dict[str, str], status: int, content_type: str | None
) -> None:
    app_client.cookies.clear()
    if content_type:
        resp = app_client.post(
            "/app/login", content=b'{"code": "ABCDEFGHJK"}', headers={"Content-Type": content_type}
        )
    else:
        resp = app_client.post("/app/login", data=data, follow_redirects=False)
    assert resp.status_code == status, resp.text
    assert "kazi_app" not in resp.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/app/login/short", 400),
        ("/app/login/" + "A" * 41, 422),
        ("/app/login/0O1IL0O1IL", 400),
        ("/app/login?lang=fr", 400),
        ("/app/login?code=" + "A" * 41, 422),
        ("/app/login?next=" + "a" * 501, 422),
    ],
)
def test_bad_login_page_input_gets_a_clear_4xx(
    app_client: TestClient, path: str, status: int
) -> None:
    app_client.cookies.clear()
    resp = app_client.get(path)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/app", "/application", "/\\evil", "/v1/jobs"]
)
def test_after_login_the_app_never_redirects_elsewhere(
    ctx: Any, app_client: TestClient, make_worker: Any, target: str
) -> None:
    worker = make_worker()
    app_client.cookies.clear()
    resp = app_client.post(
        "/app/login", data={"code": issue_code(ctx, worker.handle), "next": target},
        follow_redirects=False,
    )  # fmt: skip
    assert resp.status_code == 303 and resp.headers["location"] == "/app"


def test_guessing_codes_is_limited_per_address(
    ctx: Any, app_client: TestClient, make_worker: Any
) -> None:
    app = app_client.app
    app.state.app_settings = AppSettings(login_failures_allowed=3)  # type: ignore[attr-defined]
    try:
        worker = make_worker()
        good = issue_code(ctx, worker.handle)
        source = {"X-Forwarded-For": "ignored"}  # the limit is per connecting address
        # Other tests' failures from this client address count too: start a clean window.
        from engine.db.app_models import AppLoginFailureRow

        with ctx.sessions() as session:
            session.query(AppLoginFailureRow).delete()
            session.commit()
        for _ in range(3):
            wrong = app_client.post("/app/login", data={"code": "ZZZZZ-ZZZZZ"}, headers=source)
            assert wrong.status_code == 403
        limited = app_client.post("/app/login", data={"code": good}, follow_redirects=False)
        assert limited.status_code == 429 and 'id="login-error"' in limited.text
        assert "kazi_app" not in limited.headers.get("set-cookie", "")
    finally:
        del app.state.app_settings  # type: ignore[attr-defined]
        with ctx.sessions() as session:
            session.query(AppLoginFailureRow).delete()
            session.commit()
    # The code was not spent by the refused attempt.
    assert (
        app_client.post("/app/login", data={"code": good}, follow_redirects=False).status_code
        == 303
    )


def test_json_callers_get_the_error_body(app_client: TestClient) -> None:
    app_client.cookies.clear()
    resp = app_client.get("/app/earnings", headers={"Accept": "application/json"})
    assert resp.status_code == 401
    assert resp.json()["code"] == "app_login_required"


def test_an_api_key_is_not_an_app_session(app_client: TestClient, make_worker: Any) -> None:
    worker = make_worker()
    app_client.cookies.clear()
    resp = app_client.get("/app", headers=worker.api_auth, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/app/login")
    _ = csrf_of  # imported for other modules' use


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site", "Origin": "https://sub.testserver"}, 403),
        ({"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"}, 303),
        ({}, 303),  # not a browser: no CSRF vector
    ],
)
def test_another_site_cannot_post_a_login_for_the_browser(
    ctx: Any, app_client: TestClient, make_worker: Any, headers: dict[str, str], status: int
) -> None:
    code = issue_code(ctx, make_worker().handle)
    app_client.cookies.clear()
    resp = app_client.post(
        "/app/login", data={"code": code}, headers=headers, follow_redirects=False
    )
    assert resp.status_code == status, resp.text
    assert ("kazi_app" in resp.headers.get("set-cookie", "")) == (status == 303)
