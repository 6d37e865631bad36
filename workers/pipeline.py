"""The ``pipeline`` queue: relay unsent outbox rows and resend stalled stages (beat tasks)."""

from __future__ import annotations

from engine.bootstrap import get_context
from engine.earnings.service import release_held_earnings
from engine.pipeline.relay import BEAT_MIN_AGE, relay
from engine.pipeline.stalls import requeue_stalled
from workers.celery_app import app
from workers.tasks import in_unit_of_work


@app.task(name="kazi.pipeline.relay_outbox")
def relay_outbox_task() -> int:
    ctx = get_context()
    return relay(ctx.uow, ctx.queue, min_age=BEAT_MIN_AGE)


@app.task(name="kazi.pipeline.requeue_stalled")
def requeue_stalled_task() -> list[str]:
    ctx = get_context()
    return in_unit_of_work(ctx, requeue_stalled, float(ctx.settings.stage_stall_seconds))


@app.task(name="kazi.pipeline.release_earnings")
def release_earnings_task() -> int:
    """Held earnings past KAZI_PAY_HOLD_DAYS become available (each once: release:<key>)."""
    return in_unit_of_work(get_context(), release_held_earnings)
