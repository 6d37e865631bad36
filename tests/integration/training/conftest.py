"""Training on its own SQLite database and local store (training items are global: a database
of its own keeps other suites' items out of these counts), served by the real app over HTTPS."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.media_samples import png_bytes, wav_bytes


@pytest.fixture(scope="module")
def training_ctx(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from engine.bootstrap import build_context
    from engine.settings import Settings

    var = tmp_path_factory.mktemp("training")
    settings = Settings(
        database_url=f"sqlite:///{var / 'kazi.sqlite3'}",
        var_dir=var,
        store_backend="local",
        public_url="https://testserver",
    )
    return build_context(settings)


@pytest.fixture(scope="module")
def training_client(training_ctx: Any) -> Iterator[TestClient]:
    from engine.api.app import create_app

    app = create_app(training_ctx)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


def tone_wav(seconds: float = 0.6, hz: float = 220.0) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    return wav_bytes((0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32))


def add_items(ctx: Any, tmp: Path, set_name: str, specs: list[tuple[str, Any]]) -> list[int]:
    """Store media and add items: ("text", REF) for a clip, ("label", (L, [labels])) for a
    picture. Returns the item ids in order."""
    from engine.domain.job_stage import JobKind
    from engine.domain.training_path import TrainingSet
    from engine.training.media import store_training_media
    from engine.training.service import NewTrainingItem, add_item

    ids = []
    for kind, value in specs:
        if kind == "text":
            path = tmp / f"{uuid.uuid4().hex}.wav"
            path.write_bytes(tone_wav())
            job_kind, expected, labels = JobKind.TRANSCRIPTION, {"text": value}, []
        else:
            path = tmp / f"{uuid.uuid4().hex}.png"
            path.write_bytes(png_bytes(32, 24))
            job_kind, expected, labels = JobKind.IMAGE_CLASSIFICATION, {"label": value[0]}, value[1]
        stored = store_training_media(ctx.store, job_kind, TrainingSet(set_name), path)
        new = NewTrainingItem(
            job_kind,
            TrainingSet(set_name),
            stored.media_key,
            stored.lowres_media_key,
            stored.source_name,
            expected,
            labels,
        )
        ids.append(ctx.in_unit_of_work(add_item, new).id)
    return ids


@pytest.fixture
def trainee(training_ctx: Any) -> Callable[..., tuple[str, str, str]]:
    """A registered trainee with a training record: (worker id, handle, worker-API key)."""
    from engine.training.service import require_training
    from engine.workforce.service import register_worker

    def make(enrol: bool = True) -> tuple[str, str, str]:
        w = training_ctx.in_unit_of_work(register_worker, f"tr-{uuid.uuid4().hex[:10]}")
        if enrol:
            training_ctx.in_unit_of_work(require_training, w.id)
        return w.id, w.handle, w.api_key

    return make


def log_in(client: TestClient, ctx: Any, handle: str) -> str:
    """Log the client in with a real one-time code; returns the session's CSRF token."""
    from engine.worker_app.sessions import issue_login_code

    client.cookies.clear()
    code, _ = ctx.in_unit_of_work(issue_login_code, handle)
    resp = client.post("/app/login", data={"code": code}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    page = client.get("/app/training")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def form_of(page: str) -> dict[str, str]:
    """The training form's action and hidden fields, as a browser would send them."""
    action = re.search(r'<form id="training-form"[^>]* action="([^"]+)"', page)
    assert action, page
    form = page[action.start() : page.index("</form>", action.start())]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return {"action": action.group(1), **fields}
