"""Headless-browser helpers for tests: Debian's ``chromium`` driven by playwright.

``scripts/install.sh`` installs both (apt ``chromium``, pip ``playwright``); nothing downloads a
browser at run time, so never run ``playwright install``. ``tests/conftest.py`` registers this
module as a plugin, so the fixtures (one Chromium per session) are there for every test::

    def test_something(watched_page):
        page, log = watched_page.page, watched_page.log
        page.goto(url)
        assert not log.cors_errors(), log.report()
        watched_page.screenshot("something.png")      # tests/artifacts/something.png

Without pytest: ``with launch_chromium() as b, open_page(b) as wp: ...``.
Also here: ``serve_in_thread(app)`` (an ASGI app on a free loopback port), the Label Studio
worker helpers ``worker_account`` (invite sign-up, or reuse) and ``log_in_label_studio`` (the
real login form), and a phone on a slow link for the worker app: ``open_mobile_page`` (360x740,
touch), ``throttle(page, kbps, latency_ms)`` and ``set_offline(page, bool)`` (CDP network
emulation, service workers included), ``TransferMeter`` (bytes per request, from CDP) and
``ResponseBodies`` (every response body a context received).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

REPO_ROOT = Path(__file__).resolve().parent.parent
# Git-ignored (.gitignore: tests/artifacts/).
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM_FLAGS = ("--no-sandbox", "--disable-background-networking")
DEFAULT_VIEWPORT = {"width": 1400, "height": 900}
# Passes Django's validators (length, not too close to a kazi.local email).
DEFAULT_WORKER_PASSWORD = "Worker-pass-2024"


def chromium_path() -> str:
    """The Debian ``chromium`` launcher on PATH; fails the test with the fix when missing."""
    path = shutil.which("chromium")
    if not path:
        pytest.fail(
            "chromium is not on PATH: run scripts/install.sh (it apt-installs Debian's chromium); "
            "do not use `playwright install`",
            pytrace=False,
        )
    return path


# --------------------------------------------------------------------------------------------
# What a page logged: console messages, page errors, failed requests, HTTP errors.


@dataclass(frozen=True)
class ConsoleEntry:
    type: str  # "error", "warning", "info", "log", ...
    text: str
    url: str  # the script or resource the message is attributed to, "" if none


@dataclass(frozen=True)
class RequestEntry:
    method: str
    url: str
    resource_type: str
    status: int | None  # None when the request failed before a response
    failure: str | None  # e.g. "net::ERR_FAILED" (what a CORS refusal looks like)
    headers: dict[str, str]  # request headers (lower-case names)


@dataclass
class PageLog:
    """Everything a page reported while it was watched; appended to as events arrive."""

    console: list[ConsoleEntry] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[RequestEntry] = field(default_factory=list)

    def console_errors(self) -> list[ConsoleEntry]:
        return [entry for entry in self.console if entry.type == "error"]

    def mentions(self, pattern: str) -> list[str]:
        """Console messages and page errors matching ``pattern`` (a regex, case-insensitive)."""
        regex = re.compile(pattern, re.IGNORECASE)
        texts = [f"console {e.type}: {e.text}" for e in self.console] + [
            f"pageerror: {e}" for e in self.page_errors
        ]
        return [text for text in texts if regex.search(text)]

    def cors_errors(self) -> list[str]:
        """What Chromium logs when CORS refuses a response (fetch, XHR or a media element)."""
        return self.mentions(r"CORS|Access-Control-Allow|cross-origin|crossorigin")

    def failed_requests(
        self, url_prefix: str = "", *, ignore_aborted: bool = True
    ) -> list[RequestEntry]:
        """Requests that failed at the network level or answered >= 400.

        ``net::ERR_ABORTED`` (the page or a media element cancelled the request itself) is left
        out unless ``ignore_aborted=False``; a CORS refusal is ``net::ERR_FAILED``.
        """
        return [
            r
            for r in self.requests
            if r.url.startswith(url_prefix)
            and (
                (r.failure and not (ignore_aborted and "ERR_ABORTED" in r.failure))
                or (r.status or 0) >= 400
            )
        ]

    def requests_to(self, url_prefix: str, method: str | None = None) -> list[RequestEntry]:
        return [
            r
            for r in self.requests
            if r.url.startswith(url_prefix) and (method is None or r.method == method)
        ]

    def report(self, limit: int = 60) -> str:
        """A readable dump for assertion messages."""
        lines = [f"console {e.type}: {e.text[:300]}" for e in self.console]
        lines += [f"pageerror: {e}"[:300] for e in self.page_errors]
        lines += [
            f"{r.method} {r.url[:160]} -> {r.failure or r.status} ({r.resource_type})"
            for r in self.requests
            if r.failure or (r.status or 0) >= 400
        ]
        return "\n".join(lines[-limit:]) or "(nothing logged)"


def watch(page: Page) -> PageLog:
    """Start recording ``page``'s console, errors and requests into a new ``PageLog``."""
    log = PageLog()

    def on_console(message: Any) -> None:
        location = message.location or {}
        log.console.append(ConsoleEntry(message.type, message.text, location.get("url", "")))

    def entry(request: Any, status: int | None, failure: str | None) -> RequestEntry:
        return RequestEntry(
            request.method,
            request.url,
            request.resource_type,
            status,
            failure,
            dict(request.headers),
        )

    def on_finished(request: Any) -> None:
        response = request.response()
        log.requests.append(entry(request, response.status if response else None, None))

    page.on("console", on_console)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    page.on("requestfinished", on_finished)
    page.on(
        "requestfailed", lambda request: log.requests.append(entry(request, None, request.failure))
    )
    return log


@dataclass
class WatchedPage:
    page: Page
    log: PageLog
    context: BrowserContext

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        """Save a PNG under tests/artifacts/ and return its path."""
        return screenshot(self.page, name, full_page=full_page)


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / (name if name.endswith(".png") else f"{name}.png")
    page.screenshot(path=str(path), full_page=full_page)
    return path


# --------------------------------------------------------------------------------------------
# Launching.


@contextmanager
def launch_chromium(**launch_options: Any) -> Iterator[Browser]:
    """Headless Debian chromium with the project's flags (extra ``args`` are appended)."""
    extra = list(launch_options.pop("args", []))
    with sync_playwright() as playwright:
        browser = _launch(playwright, extra, launch_options)
        try:
            yield browser
        finally:
            browser.close()


def _launch(playwright: Playwright, extra: list[str], options: dict[str, Any]) -> Browser:
    return playwright.chromium.launch(
        executable_path=chromium_path(),
        args=[*CHROMIUM_FLAGS, *extra],
        headless=options.pop("headless", True),
        **options,
    )


@contextmanager
def open_page(
    browser: Browser, *, disable_cache: bool = False, **context_options: Any
) -> Iterator[WatchedPage]:
    """A fresh context (own cookies) with one watched page; closed on exit.

    ``disable_cache`` switches off Chromium's HTTP cache through CDP, as DevTools' "Disable
    cache" does: what a browser sees once a cached media response has expired.
    """
    context_options.setdefault("viewport", DEFAULT_VIEWPORT)
    context = browser.new_context(**context_options)
    try:
        page = context.new_page()
        log = watch(page)
        if disable_cache:
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        yield WatchedPage(page, log, context)
    finally:
        context.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the test session (about 1 s to launch)."""
    with launch_chromium() as launched:
        yield launched


@pytest.fixture
def watched_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[WatchedPage]:
    """A fresh watched page per test; on failure a screenshot named after the test is kept."""
    failed_before = request.session.testsfailed
    with open_page(browser) as wp:
        yield wp
        if request.session.testsfailed > failed_before:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
            # The page may be gone; the test's own error matters more.
            with contextlib.suppress(Exception):
                wp.screenshot(f"failed-{name}.png", full_page=True)


# --------------------------------------------------------------------------------------------
# Serving an ASGI app (the engine's API) to the browser.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    status: int | None  # None if the app sent no response start
    response_headers: dict[str, str]


class RecordingApp:
    """Wraps an ASGI app and records every HTTP request it answers, as the server saw it.

    Playwright does not report CORS preflights as page requests; this does.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[ServedRequest] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started: dict[str, Any] = {}

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                started["status"] = message["status"]
                started["headers"] = {
                    k.decode("latin-1").lower(): v.decode("latin-1")
                    for k, v in message.get("headers", [])
                }
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            self.requests.append(
                ServedRequest(
                    scope["method"],
                    scope["path"],
                    {
                        k.decode("latin-1").lower(): v.decode("latin-1")
                        for k, v in scope.get("headers", [])
                    },
                    started.get("status"),
                    started.get("headers", {}),
                )
            )

    def served(self, path_prefix: str = "", method: str | None = None) -> list[ServedRequest]:
        return [
            r
            for r in self.requests
            if r.path.startswith(path_prefix) and (method is None or r.method == method)
        ]


@contextmanager
def serve_in_thread(app: Any, *, port: int | None = None, timeout: float = 30.0) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 in a daemon thread; yields its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)


# --------------------------------------------------------------------------------------------
# Label Studio workers (recipes in docs/label-studio.md, verified on 1.23.2).


@dataclass(frozen=True)
class LabelStudioAccount:
    email: str
    password: str
    user_id: int
    token: str  # the worker's own legacy API token ("Authorization: Token ...")


def _form_session(url: str, path: str) -> httpx.Client:
    session = httpx.Client(base_url=url, timeout=30)
    session.get(path).raise_for_status()  # sets the csrftoken cookie
    return session


def _post_form(session: httpx.Client, url: str, path: str, data: dict[str, str], **kw: Any) -> int:
    response = session.post(
        path,
        data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{url}{path}"},
        **kw,
    )
    return response.status_code


def worker_account(
    url: str,
    admin_token: str,
    email: str | None = None,
    password: str = DEFAULT_WORKER_PASSWORD,
) -> LabelStudioAccount:
    """A worker that can log in: logs in if ``email`` already has an account with
    ``password``, else signs up through the organisation's invite link.

    ``email=None`` makes a new ``worker-<hex>@kazi.local``. Raises ``AssertionError`` when the
    sign-up form is refused (weak password, or the email is taken with another password).
    """
    email = email or f"worker-{uuid.uuid4().hex[:8]}@kazi.local"
    session = _form_session(url, "/user/login/")
    try:
        status = _post_form(session, url, "/user/login/", {"email": email, "password": password})
        if status != 302:
            invite = httpx.get(
                f"{url}/api/invite", headers={"Authorization": f"Token {admin_token}"}, timeout=30
            )
            invite.raise_for_status()
            session.cookies.clear()
            session.get("/user/signup/").raise_for_status()
            status = _post_form(
                session,
                url,
                "/user/signup/",
                {"email": email, "password": password},
                params={"token": invite.json()["token"]},
            )
            # Success redirects; a refused form re-renders with 200.
            assert status == 302, f"Label Studio refused the sign-up of {email} ({status})"
        me = session.get("/api/current-user/whoami")
        me.raise_for_status()
        token = session.get("/api/current-user/token")
        token.raise_for_status()
        return LabelStudioAccount(email, password, int(me.json()["id"]), token.json()["token"])
    finally:
        session.close()


def log_in_label_studio(
    page: Page, url: str, email: str, password: str, *, timeout: float = 60.0
) -> None:
    """Log in through Label Studio's real login form (``/user/login/``) in ``page``."""
    page.goto(f"{url}/user/login/")
    page.fill("#login-form input[name='email']", email)
    page.fill("#login-form input[name='password']", password)
    page.click("#login-form button[type='submit']")
    try:
        page.wait_for_url(lambda u: "/user/login" not in u, timeout=timeout * 1000)
    except Exception as exc:
        form = page.locator("#login-form")
        shown = form.inner_text() if form.count() else page.content()[-1500:]
        raise AssertionError(f"Label Studio login failed for {email}: {shown}") from exc


# --------------------------------------------------------------------------------------------
# A phone on a slow link: the worker app's tests and bench/worker_app.py.

# A small Android phone (CSS pixels), the app's narrowest target.
MOBILE_VIEWPORT = {"width": 360, "height": 740}


def mobile_context_options(**overrides: Any) -> dict[str, Any]:
    """``browser.new_context`` options for a 360x740 touch phone (overrides win)."""
    return {
        "viewport": dict(MOBILE_VIEWPORT),
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        **overrides,
    }


@contextmanager
def open_mobile_page(browser: Browser, **context_options: Any) -> Iterator[WatchedPage]:
    """``open_page`` on a 360x740 touch viewport."""
    with open_page(browser, **mobile_context_options(**context_options)) as wp:
        yield wp


@dataclass
class NetworkConditions:
    """The link a page (and its context's service workers) is given: the CDP sessions that
    emulate it, kept so that going offline and back restores the same throttling."""

    cdp: Any  # playwright CDPSession of the page
    context: BrowserContext
    download_bytes_per_second: float
    upload_bytes_per_second: float
    latency_ms: float
    offline: bool = False
    browser_cdp: Any = None  # a browser-level session: service workers are their own targets
    browser_context_id: str = ""
    worker_sessions: list[str] = field(default_factory=list)
    _message_id: int = 0

    def params(self) -> dict[str, Any]:
        return {
            "offline": self.offline,
            "latency": self.latency_ms,
            "downloadThroughput": self.download_bytes_per_second,
            "uploadThroughput": self.upload_bytes_per_second,
        }

    def apply(self) -> None:
        self.cdp.send("Network.emulateNetworkConditions", self.params())
        for session_id in self.worker_sessions:
            self._to_worker(session_id, "Network.emulateNetworkConditions", self.params())

    def _to_worker(self, session_id: str, method: str, params: dict[str, Any]) -> None:
        self._message_id += 1
        message = {"id": 900_000 + self._message_id, "method": method, "params": params}
        with contextlib.suppress(Exception):  # the worker may have stopped meanwhile
            self.browser_cdp.send(
                "Target.sendMessageToTarget",
                {"sessionId": session_id, "message": json.dumps(message)},
            )

    def watch_service_workers(self, browser: Browser) -> None:
        """Throttle this context's service workers too, those running now and those that
        start later: a page's emulation does not reach the fetches a service worker makes."""
        self.browser_cdp = browser.new_browser_cdp_session()
        self.context.on("close", lambda _: self._detach())
        self.browser_cdp.on("Target.targetCreated", lambda e: self._attach(e["targetInfo"]))
        self.browser_cdp.send("Target.setDiscoverTargets", {"discover": True})
        for info in self.browser_cdp.send("Target.getTargets")["targetInfos"]:
            self._attach(info)

    def _detach(self) -> None:
        with contextlib.suppress(Exception):
            self.browser_cdp.detach()

    def _attach(self, info: dict[str, Any]) -> None:
        if info.get("type") != "service_worker":
            return
        if info.get("browserContextId") != self.browser_context_id:
            return
        attached = self.browser_cdp.send(
            "Target.attachToTarget", {"targetId": info["targetId"], "flatten": False}
        )
        session_id = str(attached["sessionId"])
        self.worker_sessions.append(session_id)
        self._to_worker(session_id, "Network.enable", {})
        self._to_worker(session_id, "Network.emulateNetworkConditions", self.params())


_CONDITIONS: dict[int, NetworkConditions] = {}  # id(page) -> its emulation


def throttle(page: Page, kbps: float = 400, latency_ms: float = 400) -> NetworkConditions:
    """Emulate a slow link for ``page`` as DevTools' throttling does (CDP
    ``Network.emulateNetworkConditions``): ``kbps`` kilobits per second each way (throughput in
    bytes/s is ``kbps * 1000 / 8``) and ``latency_ms`` added to every request.

    The page's emulation does not reach a service worker's own fetches (another target), so the
    context's service workers get the same conditions through a browser-level session.
    """
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    rate = kbps * 1000 / 8
    conditions = NetworkConditions(cdp, page.context, rate, rate, latency_ms)
    conditions.browser_context_id = str(
        cdp.send("Target.getTargetInfo")["targetInfo"].get("browserContextId", "")
    )
    conditions.apply()
    browser = page.context.browser
    if browser is not None:
        conditions.watch_service_workers(browser)
    _CONDITIONS[id(page)] = conditions
    return conditions


def set_offline(page: Page, offline: bool) -> None:
    """Cut (or restore) the network for ``page``'s context, service workers included
    (playwright's ``set_offline``); a ``throttle`` on the page stays in force when it comes
    back."""
    page.context.set_offline(offline)
    conditions = _CONDITIONS.get(id(page))
    if conditions is not None:
        conditions.offline = offline
        conditions.apply()


@dataclass(frozen=True)
class Transfer:
    url: str
    mime_type: str
    bytes: int  # encoded bytes over the wire (headers and body, compressed as sent)
    status: int | None
    finished: bool  # False: cancelled or failed (bytes is what arrived before that)
    from_cache: bool  # served from the HTTP cache or a service worker: nothing transferred


class TransferMeter:
    """Bytes a page transferred, per request, from CDP: ``Network.loadingFinished``'s
    ``encodedDataLength`` (what DevTools' "transferred" column shows) or, for a request that
    never finished (a media element cancelling a range request), the sum of its
    ``Network.dataReceived`` encoded lengths."""

    def __init__(self, page: Page) -> None:
        self._urls: dict[str, str] = {}
        self._mime: dict[str, str] = {}
        self._status: dict[str, int] = {}
        self._cached: set[str] = set()
        self._received: dict[str, int] = {}
        self._done: dict[str, tuple[int, bool]] = {}
        self._lock = threading.Lock()
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.on("Network.requestWillBeSent", self._on_request)
        self.cdp.on("Network.responseReceived", self._on_response)
        self.cdp.on("Network.requestServedFromCache", self._on_cached)
        self.cdp.on("Network.dataReceived", self._on_data)
        self.cdp.on("Network.loadingFinished", self._on_finished)
        self.cdp.on("Network.loadingFailed", self._on_failed)
        self.cdp.send("Network.enable")

    def _on_request(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._urls[event["requestId"]] = event["request"]["url"]

    def _on_response(self, event: dict[str, Any]) -> None:
        response = event["response"]
        with self._lock:
            rid = event["requestId"]
            self._urls.setdefault(rid, response["url"])
            self._mime[rid] = response.get("mimeType", "")
            self._status[rid] = int(response.get("status", 0))
            if response.get("fromDiskCache") or response.get("fromServiceWorker"):
                self._cached.add(rid)

    def _on_cached(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._cached.add(event["requestId"])

    def _on_data(self, event: dict[str, Any]) -> None:
        with self._lock:
            rid = event["requestId"]
            self._received[rid] = self._received.get(rid, 0) + int(event["encodedDataLength"])

    def _on_finished(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._done[event["requestId"]] = (int(event["encodedDataLength"]), True)

    def _on_failed(self, event: dict[str, Any]) -> None:
        with self._lock:
            rid = event["requestId"]
            self._done[rid] = (self._received.get(rid, 0), False)

    def transfers(self) -> list[Transfer]:
        """Every request that ended (finished or failed), in the order they started."""
        with self._lock:
            return [
                Transfer(
                    url,
                    self._mime.get(rid, ""),
                    self._done[rid][0],
                    self._status.get(rid),
                    self._done[rid][1],
                    rid in self._cached,
                )
                for rid, url in self._urls.items()
                if rid in self._done
            ]

    def total(self, where: Any = None) -> int:
        """Bytes of the transfers ``where(transfer)`` accepts (all when None)."""
        return sum(t.bytes for t in self.transfers() if where is None or where(t))

    def pending(self) -> int:
        with self._lock:
            return sum(1 for rid in self._urls if rid not in self._done)

    def settle(self, page: Page, quiet_ms: int = 500, timeout_ms: int = 30_000) -> None:
        """Wait until no request has been in flight for ``quiet_ms`` (or ``timeout_ms``)."""
        deadline = time.monotonic() + timeout_ms / 1000
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            page.wait_for_timeout(100)
            if self.pending():
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_ms / 1000:
                return

    def reset(self) -> None:
        with self._lock:
            for store in (self._urls, self._mime, self._status, self._received, self._done):
                store.clear()
            self._cached.clear()

    def detach(self) -> None:
        with contextlib.suppress(Exception):
            self.cdp.detach()


def is_audio(transfer: Transfer) -> bool:
    """An audio transfer (the segment's Opus copy, or any media response)."""
    return transfer.mime_type.startswith(("audio/", "video/")) or bool(
        re.search(r"\.(opus|ogg|webm|flac|wav|mp3|m4a)(\?|$)", transfer.url)
    )


class ResponseBodies:
    """Every response body a browser context receives (pages, scripts, XHR/fetch, service
    worker fetches), read as it arrives: for checking what reached the device, on the wire."""

    def __init__(self, context: BrowserContext) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        self.unread: list[str] = []  # responses without a readable body (redirects, aborted)
        context.on("response", self._on_response)

    def _on_response(self, response: Any) -> None:
        try:
            body = response.body()
        except Exception:
            self.unread.append(f"{response.status} {response.url}")
            return
        self.bodies.append((response.url, body))

    def containing(self, text: str) -> list[str]:
        """URLs of the bodies that contain ``text`` (UTF-8, also as JSON would escape it)."""
        needles = {text.encode(), json.dumps(text)[1:-1].encode()}
        return [url for url, body in self.bodies if any(n in body for n in needles)]
