"""Proof in a real browser that Label Studio plays audio the engine serves, and that a worker's
edit of the machine draft comes back as an annotation.

The engine's API runs in this process (uvicorn in a thread, the session's PostgreSQL context and
local object store) and serves a real FLAC through a signed media link; Label Studio 1.23.2 runs
as the session's real server; headless Debian chromium logs a worker in through the login form,
opens the task, checks the draft and the decoded waveform, edits the text and submits.
Screenshot: tests/artifacts/label-studio-transcription.png.
"""

from __future__ import annotations

import html
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from label_studio_sdk import LabelStudio
from playwright.sync_api import Browser, Page, expect

from engine.labeling.label_studio_server import LabelStudioServer
from engine.storage.object_keys import object_key
from engine.storage.signed_urls import sign_media_url
from tests.browser import (
    LabelStudioAccount,
    RecordingApp,
    log_in_label_studio,
    open_page,
    serve_in_thread,
    worker_account,
)
from tests.conftest import REPO_ROOT, SPEECH

pytestmark = pytest.mark.slow

CONFIG_PATH = REPO_ROOT / "configs" / "labeling" / "transcription.xml"
JFK = SPEECH / "jfk.flac"
JFK_SECONDS = 11.0
# A tiny.en-style draft with one wrong word, and what the worker corrects it to.
DRAFT = (
    "and so my fellow americans ask not what your country can do for you"
    " ask what you can do for your county"
)
EDITED = (
    "And so, my fellow Americans, ask not what your country can do for you,"
    " ask what you can do for your country."
)

# Label Studio 1.23.2 DOM (data-testid attributes of its labeling frontend).
SEL_AUDIO = 'audio[data-testid="waveform-audio"]'  # hidden <audio crossorigin="anonymous">
SEL_WAVEFORM = "canvas#waveform-layer-main"  # drawn from the decoded samples
SEL_END_TIME = '[data-testid="timebox-end-time"] input'  # "00:00:11:000" once decoded
SEL_PLAY = '[data-testid="playback-button:play"]'
SEL_PAUSE = '[data-testid="playback-button:pause"]'  # the same button while playing
SEL_REGION = '[data-testid="textarea-region"]'  # one per TextArea result (the draft)
SEL_REGION_TEXT = '[data-testid="htx-textbox-content"]'
SEL_REGION_EDIT = '[data-testid="htx-textbox-edit-button"]'
SEL_REGION_INPUT = 'textarea[data-testid="htx-textbox-input"]'
SEL_REGION_SAVE = '[data-testid="htx-textbox-save"]'
SEL_SUBMIT = '[data-testid="bottombar-submit-button"]'


@dataclass(frozen=True)
class EngineMedia:
    base_url: str
    key: str
    url: str  # signed GET link, what the task's `audio` holds
    served: RecordingApp  # every request the engine's API answered

    @property
    def route(self) -> str:
        return "/v1/media/"


@pytest.fixture(scope="module")
def engine_media(ctx: Any) -> Iterator[EngineMedia]:  # ctx: tests/conftest.py
    from engine.api.app import create_app

    key = object_key(
        f"c{uuid.uuid4().hex[:8]}", f"j{uuid.uuid4().hex[:8]}", "segments", "0001.flac"
    )
    ctx.store.put_file(key, JFK, content_type="audio/flac")
    app = RecordingApp(create_app(ctx))
    with serve_in_thread(app) as base_url:
        url = sign_media_url(
            base_url, key, "GET", int(time.time()) + 3600, ctx.settings.signing_secret
        )
        yield EngineMedia(base_url, key, url, app)
    ctx.store.delete(key)


def config_variables(config: str) -> list[str]:
    """Every ``$name`` the labeling config reads from task data."""
    names: list[str] = []
    for element in ET.fromstring(config).iter():
        for value in element.attrib.values():
            for name in re.findall(r"\$(\w+)", value):
                if name not in names:
                    names.append(name)
    return names


def task_data(config: str, media_url: str) -> dict[str, str]:
    """Task data for every variable of the config as it is now (other work edits it)."""
    data: dict[str, str] = {}
    for name in config_variables(config):
        if name == "audio":
            data[name] = media_url
        elif "html" in name:
            marked = DRAFT.rsplit(" ", 1)
            data[name] = f"<p>{html.escape(marked[0])} <mark>{html.escape(marked[1])}</mark></p>"
        else:
            data[name] = f"{name.replace('_', ' ')}: check the last word"
    return data


def visible_text(data: dict[str, str]) -> list[str]:
    """What each non-audio value should show as text on the page."""
    return [re.sub(r"<[^>]+>", "", html.unescape(v)) for k, v in data.items() if k != "audio"]


@dataclass(frozen=True)
class TranscriptionTask:
    project_id: int
    task_id: int
    data: dict[str, str]


@pytest.fixture(scope="module")
def admin(label_studio: LabelStudioServer) -> LabelStudio:
    return LabelStudio(base_url=label_studio.url, api_key=label_studio.token)


@pytest.fixture(scope="module")
def transcription_task(admin: LabelStudio, engine_media: EngineMedia) -> TranscriptionTask:
    config = CONFIG_PATH.read_text()
    project = admin.projects.create(title="browser audio proof", label_config=config)
    assert project.id is not None
    data = task_data(config, engine_media.url)
    prediction = {
        "model_version": "tiny.en",
        "result": [
            {
                "from_name": "transcription",
                "to_name": "audio",
                "type": "textarea",
                "value": {"text": [DRAFT]},
            }
        ],
    }
    imported = admin.projects.import_tasks(
        id=project.id,
        # Plain dicts: the SDK's PredictionRequest insists on a `task` id the import assigns.
        request=cast(Any, [{"data": data, "predictions": [prediction]}]),
        return_task_ids=True,
    )
    task_ids = (imported.model_extra or {})["task_ids"]
    return TranscriptionTask(project.id, int(task_ids[0]), data)


@pytest.fixture(scope="module")
def worker(label_studio: LabelStudioServer) -> LabelStudioAccount:
    return worker_account(label_studio.url, label_studio.token)


def open_task(page: Page, ls_url: str, task: TranscriptionTask, timeout_s: float = 90) -> None:
    page.goto(f"{ls_url}/projects/{task.project_id}/data?task={task.task_id}")
    page.locator(SEL_REGION).first.wait_for(timeout=timeout_s * 1000)


def audio_state(page: Page) -> list[dict[str, Any]]:
    return page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].map(a => ({
            src: a.currentSrc, readyState: a.readyState, duration: a.duration,
            error: a.error && a.error.code, currentTime: a.currentTime, paused: a.paused,
            seekable: a.seekable.length ? [a.seekable.start(0), a.seekable.end(0)] : null}))""",
        SEL_AUDIO,
    )


def waveform_pixels(page: Page) -> int:
    """Painted pixels of the main waveform canvas (blank until the audio is decoded)."""
    return int(
        page.evaluate(
            """(sel) => { const c = document.querySelector(sel); if (!c) return -1;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""",
            SEL_WAVEFORM,
        )
    )


def wait_for_decoded_audio(page: Page, timeout_s: float = 60) -> None:
    page.wait_for_function(
        """([sel, seconds]) => { const a = document.querySelector(sel);
            return a && a.readyState >= 1 && Math.abs(a.duration - seconds) < 0.1; }""",
        arg=[SEL_AUDIO, JFK_SECONDS],
        timeout=timeout_s * 1000,
    )
    page.wait_for_function(
        "(sel) => document.querySelector(sel)?.value === '00:00:11:000'",
        arg=SEL_END_TIME,
        timeout=timeout_s * 1000,
    )


def test_worker_plays_engine_audio_and_submits_edited_draft(
    browser: Browser,
    label_studio: LabelStudioServer,
    admin: LabelStudio,
    engine_media: EngineMedia,
    transcription_task: TranscriptionTask,
    worker: LabelStudioAccount,
    record_property: Any,
) -> None:
    timings: dict[str, float] = {}
    start = time.monotonic()

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - start, 2)

    media_prefix = f"{engine_media.base_url}/v1/media/"
    with open_page(browser) as wp:
        page, log = wp.page, wp.log
        try:
            log_in_label_studio(page, label_studio.url, worker.email, worker.password)
            lap("logged_in")
            open_task(page, label_studio.url, transcription_task)
            lap("task_open")

            # The audio came from the engine and decoded: the <audio> element has the real
            # duration, the time box shows it and the waveform canvas is painted.
            wait_for_decoded_audio(page)
            lap("audio_decoded")

            # The prediction pre-fills the TextArea with the machine draft. (The editor renders
            # the annotation twice while loading: use retrying assertions.)
            region = page.locator(SEL_REGION)
            expect(region).to_have_count(1)
            expect(region.locator(SEL_REGION_TEXT)).to_have_text(DRAFT)
            # Every other task field the config shows (e.g. the marked-up draft) is rendered.
            for text in visible_text(transcription_task.data):
                expect(page.locator("body")).to_contain_text(text)
            states = audio_state(page)
            assert states and all(s["src"] == engine_media.url for s in states), states
            assert all(s["error"] is None for s in states), states
            # The waveform paints a moment after decoding; a loaded machine takes longer.
            deadline = time.monotonic() + 20
            while waveform_pixels(page) <= 1000 and time.monotonic() < deadline:
                page.wait_for_timeout(250)
            assert waveform_pixels(page) > 1000
            assert log.requests_to(media_prefix, "GET"), log.report()
            assert not log.failed_requests(media_prefix), log.report()
            assert not log.cors_errors(), log.report()

            # It plays: the play button moves the playhead.
            page.click(SEL_PLAY)
            page.wait_for_function(
                "(sel) => document.querySelector(sel).currentTime > 0.3", arg=SEL_AUDIO
            )
            page.click(SEL_PAUSE)
            page.wait_for_function("(sel) => document.querySelector(sel).paused", arg=SEL_AUDIO)
            lap("played")

            wp.screenshot("label-studio-transcription.png")

            # Correct the draft and submit.
            region.locator(SEL_REGION_EDIT).click()
            page.fill(SEL_REGION_INPUT, EDITED)
            page.click(SEL_REGION_SAVE)
            expect(region.locator(SEL_REGION_TEXT)).to_have_text(EDITED)
            with page.expect_response(
                lambda r: (
                    r.request.method == "POST"
                    and f"/api/tasks/{transcription_task.task_id}/annotations" in r.url
                )
            ) as submitted:
                page.click(SEL_SUBMIT)
            assert submitted.value.status == 201, submitted.value.text()
            lap("submitted")
            wp.screenshot("label-studio-transcription-submitted.png")

            # What the engine saw: GETs from the LS page's origin, answered with CORS headers;
            # preflights, if the browser sent any, answered 204.
            for served in engine_media.served.served(engine_media.route):
                assert served.headers.get("origin") == label_studio.url, served
                assert served.response_headers.get("access-control-allow-origin") == "*", served
                assert served.status in ((204,) if served.method == "OPTIONS" else (200, 206))
            assert not log.cors_errors(), log.report()
            assert not log.page_errors, log.report()
        except BaseException:
            wp.screenshot("failed-label-studio-transcription.png", full_page=True)
            raise

    annotations = admin.annotations.list(id=transcription_task.task_id)
    assert len(annotations) == 1
    annotation = annotations[0]
    assert annotation.completed_by == worker.user_id
    texts = [
        item["value"]["text"]
        for item in annotation.result or []
        if item["from_name"] == "transcription" and item["type"] == "textarea"
    ]
    assert texts == [[EDITED]], annotation.result
    lap("total")
    record_property("browser_timings_s", timings)
    print(f"\nbrowser audio timings (s since the browser step began): {timings}")


def test_media_route_answers_preflight_from_label_studio_origin(
    browser: Browser,
    label_studio: LabelStudioServer,
    engine_media: EngineMedia,
) -> None:
    """A fetch with a non-safelisted header (a multi-range Range) makes Chromium preflight;
    the engine's OPTIONS answer must let the GET through."""
    with open_page(browser) as wp:
        page, log = wp.page, wp.log
        page.goto(f"{label_studio.url}/user/login/")
        result = page.evaluate(
            """async (url) => { const r = await fetch(url, {headers: {Range: 'bytes=0-1, 4-5'}});
                const body = await r.arrayBuffer();
                return {status: r.status, length: body.byteLength,
                        contentLength: r.headers.get('content-length')}; }""",
            engine_media.url,
        )
        preflights = engine_media.served.served(engine_media.route, "OPTIONS")
        assert preflights, engine_media.served.requests
        for preflight in preflights:
            assert preflight.headers["origin"] == label_studio.url
            assert preflight.headers["access-control-request-headers"] == "range"
            assert preflight.status == 204
        assert result["status"] in (200, 206), result
        assert result["length"] > 0 and result["contentLength"] is not None, result
        assert not log.cors_errors(), log.report()

    origin = label_studio.url
    answer = httpx.options(
        engine_media.url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] in ("*", origin)
    assert "GET" in answer.headers["access-control-allow-methods"]
    assert "range" in answer.headers["access-control-allow-headers"].lower()


def test_audio_seeks_without_browser_cache(
    browser: Browser,
    label_studio: LabelStudioServer,
    transcription_task: TranscriptionTask,
    worker: LabelStudioAccount,
) -> None:
    """A worker clicking into the waveform after the cached response expired (max-age=300)."""
    with open_page(browser, disable_cache=True) as wp:
        page = wp.page
        log_in_label_studio(page, label_studio.url, worker.email, worker.password)
        open_task(page, label_studio.url, transcription_task)
        wait_for_decoded_audio(page)
        page.evaluate("(sel) => { document.querySelector(sel).currentTime = 8; }", SEL_AUDIO)
        page.wait_for_timeout(500)
        state = audio_state(page)[0]
        assert state["seekable"] == [0, pytest.approx(JFK_SECONDS, abs=0.1)], state
        assert state["currentTime"] == pytest.approx(8, abs=0.5), state
