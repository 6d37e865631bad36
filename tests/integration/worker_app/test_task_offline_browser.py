"""The light editor offline, in a real browser: the service worker serves the task page again
without a connection, an answer made offline waits in the outbox (IndexedDB) and is filed once
when the connection returns.

The engine's API runs in this process (uvicorn in a thread, media links naming this server);
headless Debian chromium has a worker's session cookie. The audio is a real Opus file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, expect

from engine.api.app import create_app
from engine.bootstrap import EngineContext
from engine.media.audio import encode_segment
from engine.storage.local_store import LocalObjectStore
from tests.browser import free_port, open_page, serve_in_thread
from tests.integration.worker_app.test_task_pages import answers_of, app_worker, hold, seed_task

pytestmark = pytest.mark.slow

EDITED = "Naïve café, edited offline"
OUTBOX_COUNT = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("kazi-app");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const count = open.result.transaction("outbox").objectStore("outbox").count();
    count.onsuccess = () => { open.result.close(); resolve(count.result); };
  };
})"""


@pytest.fixture(scope="module")
def served(ctx) -> Iterator[tuple[str, EngineContext]]:  # type: ignore[no-untyped-def]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = ctx.settings.model_copy(update={"public_url": base})
    store = LocalObjectStore(settings.resolved_store_dir(), base, settings.signing_secret)
    here = dataclasses.replace(ctx, settings=settings, store=store)
    app = create_app(here)
    with serve_in_thread(app, port=port) as url:
        yield url, here


def _opus(tmp_path: Path) -> bytes:
    rate = 16_000
    tone = (0.2 * np.sin(2 * np.pi * 220 * np.arange(2 * rate) / rate)).astype(np.float32)
    return encode_segment(tone, rate, 0.0, 2.0, tmp_path / "tone.opus", "opus").read_bytes()


def test_an_answer_made_offline_is_filed_once_when_the_connection_returns(  # type: ignore[no-untyped-def]
    served, browser: Browser, tmp_path
):
    url, ctx = served
    task = seed_task(ctx, opus=_opus(tmp_path))
    worker = app_worker(ctx)
    lease_id = hold(ctx, worker, task)
    token = worker.cookie["Cookie"].split("=", 1)[1]
    with open_page(browser, viewport={"width": 360, "height": 740}) as wp:
        page, context = wp.page, wp.context
        context.add_cookies([{"name": "kazi_app", "value": token, "url": url}])
        page.goto(f"{url}/app/task")
        page.evaluate("() => navigator.serviceWorker.ready")
        page.reload()  # now under the service worker, which keeps this page and its audio
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        page.wait_for_function(
            "() => document.getElementById('segment-audio').readyState >= 2", timeout=15_000
        )
        context.set_offline(True)
        page.reload()  # no connection: the cached task page, its scripts and its audio
        expect(page.locator("#answer-text")).to_be_visible()
        assert page.locator("#answer-form").get_attribute("data-lease-id") == lease_id
        page.wait_for_function(
            "() => document.getElementById('segment-audio').readyState >= 2", timeout=15_000
        )
        page.fill("#answer-text", EDITED)
        page.click("#submit")
        status = page.locator("#task-status")
        expect(status).to_contain_text("saved on this phone")
        pending = page.evaluate("() => KaziOutbox.pending()")
        assert [p["client_answer_id"] for p in pending] == [f"app-{lease_id}"]
        assert answers_of(ctx, task.task_id) == []
        wp.screenshot("worker-app-offline-saved.png")

        context.set_offline(False)  # the 'online' event sends the outbox
        page.wait_for_url(f"{url}/app/task/done?outcome=filed", timeout=15_000)
        assert page.evaluate(OUTBOX_COUNT) == 0  # sent, so no longer kept on the phone
        # Sent again anyway (a reply lost on the way back): the engine files it once.
        again = page.evaluate(
            """([url, csrf, body]) => fetch(url, {method: "POST", body: JSON.stringify(body),
                 headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}})
               .then(r => r.json().then(data => [r.status, data.outcome]))""",
            [f"{url}/app/task/{lease_id}/submit", worker.csrf,
             {"client_answer_id": f"app-{lease_id}", "answer": {"text": EDITED}}],
        )  # fmt: skip
        assert again == [200, "replayed"]
    (answer,) = answers_of(ctx, task.task_id)
    assert answer.payload == {"text": EDITED} and answer.client_answer_id == f"app-{lease_id}"
