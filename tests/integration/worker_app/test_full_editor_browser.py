"""A box drawn in the worker app's full editor (Label Studio's open-source frontend, served from
the engine's static files) lands on the right pixels, in a real browser.

The engine's API runs in this process (uvicorn in a thread, the session's PostgreSQL and a
local object store whose links name this server); headless Debian chromium opens the app with
a worker's session, draws one box on a tile of a larger image by dragging the mouse, submits,
and the answer the engine filed, shifted by the tile's place in the source image, is the box
the mouse drew on the source image's pixels. Screenshot: tests/artifacts/worker-app-full-editor.png.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from engine.api.app import create_app
from engine.bootstrap import EngineContext
from engine.storage.local_store import LocalObjectStore
from engine.worker_app.wiring import STATIC_DIR
from tests.browser import free_port, open_page, serve_in_thread
from tests.conftest import SPEECH
from tests.integration.worker_app.test_task_pages import (
    DRAFT_TEXT,
    answers_of,
    app_worker,
    hold,
    seed_task,
)

pytestmark = pytest.mark.slow

TILE = (640, 360)  # the task's image: one tile of the source
TILE_AT = (1280, 720)  # where the tile sits in the source image (box_x, box_y)
# Where the mouse drags, as fractions of the displayed image.
DRAG_FROM, DRAG_TO = (0.25, 0.2), (0.6, 0.7)
PIXEL_TOLERANCE = 1.5  # the mouse moves in whole CSS pixels of a scaled image


@pytest.fixture(scope="module")
def served(ctx) -> Iterator[tuple[str, EngineContext]]:  # type: ignore[no-untyped-def]
    if not (STATIC_DIR / "vendor" / "lsf" / "main.js").is_file():
        pytest.fail(
            "Label Studio's frontend is not installed: run scripts/install.sh", pytrace=False
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The same database and files; media links name this server (the app serves them).
    settings = ctx.settings.model_copy(update={"public_url": base})
    store = LocalObjectStore(settings.resolved_store_dir(), base, settings.signing_secret)
    here = dataclasses.replace(ctx, settings=settings, store=store)
    app = create_app(here)
    with serve_in_thread(app, port=port) as url:
        yield url, here


def test_a_box_drawn_in_the_full_editor_lands_on_the_source_pixels(served, browser: Browser):  # type: ignore[no-untyped-def]
    url, ctx = served
    task = seed_task(ctx, "image_boxes", labels=("car", "tree"), image=TILE)
    with ctx.uow() as uow:  # the task is a tile of a larger source image
        row = uow.work.task(task.task_id)
        assert row is not None
        row.box_x, row.box_y = TILE_AT
        uow.commit()
    worker = app_worker(ctx)
    lease_id = hold(ctx, worker, task)
    token = worker.cookie["Cookie"].split("=", 1)[1]
    with open_page(browser, viewport={"width": 1280, "height": 900}) as wp:
        page, log = wp.page, wp.log
        wp.context.add_cookies([{"name": "kazi_app", "value": token, "url": url}])
        page.goto(f"{url}/app/task")
        image = page.locator('#label-studio img[src*="/v1/media/"]')
        expect(image).to_be_visible(timeout=30_000)
        page.wait_for_function(
            "() => { const i = document.querySelector('#label-studio img'); "
            "return i && i.complete && i.naturalWidth > 0; }"
        )
        page.get_by_text("car", exact=True).first.click()  # the label to draw with
        box = image.bounding_box()
        assert box is not None
        natural = page.evaluate(
            "() => { const i = document.querySelector('#label-studio img'); "
            "return [i.naturalWidth, i.naturalHeight]; }"
        )
        assert natural == list(TILE)
        start = (round(box["x"] + DRAG_FROM[0] * box["width"]),
                 round(box["y"] + DRAG_FROM[1] * box["height"]))  # fmt: skip
        end = (round(box["x"] + DRAG_TO[0] * box["width"]),
               round(box["y"] + DRAG_TO[1] * box["height"]))  # fmt: skip
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=5)
        page.mouse.move(*end, steps=5)
        page.mouse.up()
        wp.screenshot("worker-app-full-editor.png")
        page.get_by_role("button", name="Submit").click()
        page.wait_for_url(f"{url}/app/task/done?outcome=filed", timeout=30_000)
        assert not log.page_errors, log.report()
        assert not log.mentions("Content Security Policy"), log.report()
        assert log.requests_to(f"{url}/app/task/{lease_id}/submit", "POST")

    (answer,) = answers_of(ctx, task.task_id)
    ((filed),) = answer.payload["boxes"]
    assert filed["label"] == "car"
    scale_x, scale_y = TILE[0] / box["width"], TILE[1] / box["height"]
    expected = {  # the mouse's box on the source image's pixels
        "x": TILE_AT[0] + (start[0] - box["x"]) * scale_x,
        "y": TILE_AT[1] + (start[1] - box["y"]) * scale_y,
        "w": (end[0] - start[0]) * scale_x,
        "h": (end[1] - start[1]) * scale_y,
    }
    landed = {"x": TILE_AT[0] + filed["x"], "y": TILE_AT[1] + filed["y"],
              "w": filed["w"], "h": filed["h"]}  # fmt: skip
    for key, value in expected.items():
        assert abs(landed[key] - value) <= PIXEL_TOLERANCE * max(scale_x, scale_y), (
            key, landed, expected,
        )  # fmt: skip


def test_transcription_in_the_full_editor_starts_from_the_draft_and_is_filed(served, browser):  # type: ignore[no-untyped-def]
    url, ctx = served
    task = seed_task(ctx, flac=(SPEECH / "jfk.flac").read_bytes())
    worker = app_worker(ctx)
    hold(ctx, worker, task)
    token = worker.cookie["Cookie"].split("=", 1)[1]
    with open_page(browser, viewport={"width": 1280, "height": 900}) as wp:
        page, log = wp.page, wp.log
        wp.context.add_cookies([{"name": "kazi_app", "value": token, "url": url}])
        page.goto(f"{url}/app/task?editor=full")
        draft_region = page.get_by_text(DRAFT_TEXT, exact=True)
        expect(page.locator("#label-studio mark").first).to_be_visible(timeout=30_000)
        expect(draft_region.first).to_be_visible()  # the worker's annotation starts from it
        wp.screenshot("worker-app-full-editor-transcription.png")
        page.get_by_role("button", name="Submit").click()
        try:
            page.wait_for_url(f"{url}/app/task/done?outcome=filed", timeout=10_000)
        except Exception:
            bad = [(r.url, r.status) for r in log.failed_requests()]
            raise AssertionError(
                f"{page.locator('#task-status').inner_text()} {bad} {log.report()}"
            ) from None
        assert not log.page_errors, log.report()
    (answer,) = answers_of(ctx, task.task_id)
    assert answer.payload == {"text": DRAFT_TEXT}  # the draft, through Label Studio's editor
