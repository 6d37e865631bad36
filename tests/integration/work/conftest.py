"""Jobs open for work (published through the real pipeline) and registered workers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from tests.conftest import wait_for_stage
from tests.media_samples import png_bytes


def publish_image_job(api, ctx, auth, worker, n: int, **spec) -> str:  # type: ignore[no-untyped-def]
    """Submit ``n`` distinct small images as a classification job and wait until it is open."""
    spec = {"kind": "image_classification", "labels": ["cat", "dog"], "gold_ratio": 0.0, **spec}
    files = [(f"img{i:03d}.png", png_bytes(40 + i, 30, (i % 250, 40, 90))) for i in range(n)] + [
        (g["filename"], png_bytes(20, 20 + i, (200, i, 10)))
        for i, g in enumerate(spec.get("gold", []))
    ]
    resp = api.post(
        "/v1/jobs",
        headers=auth,
        data={"spec": json.dumps(spec)},
        files=[("files", (name, data, "image/png")) for name, data in files],
    )
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["id"]
    assert wait_for_stage(ctx, job_id, {"labeling", "failed"}, worker=worker) == "labeling"
    return str(job_id)


@pytest.fixture
def new_worker(ctx) -> Callable[..., tuple[str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    def make(tier: str = "qualified") -> tuple[str, dict[str, str]]:
        w = ctx.in_unit_of_work(register_worker, f"w-{uuid.uuid4().hex[:10]}", tier)
        return w.id, {"Authorization": f"Bearer {w.api_key}"}

    return make
