"""The ``score`` queue: consensus, scores and skills once a job's answers are in; the end of
QA review; the beat's sweep for jobs whose completion event was missed or whose deadline
passed. What runs after each step is routed by the stage it enters (move_job_to)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from engine.bootstrap import get_context
from engine.quality.service import QualitySettings, finish_review, score_job
from engine.quality.triggers import send_due_jobs
from workers.celery_app import TRANSIENT_RETRY, app
from workers.tasks import in_unit_of_work


@app.task(name="kazi.score.score_job", autoretry_for=(OperationalError,), **TRANSIENT_RETRY)
def score_job_task(job_id: str) -> str | None:
    ctx = get_context()
    settings = QualitySettings.from_settings(ctx.settings)
    stage = in_unit_of_work(ctx, score_job, job_id, settings)
    return stage.value if stage else None


@app.task(name="kazi.score.finish_review", autoretry_for=(OperationalError,), **TRANSIENT_RETRY)
def finish_review_task(job_id: str) -> str | None:
    ctx = get_context()
    policy = QualitySettings.from_settings(ctx.settings).policy
    stage = in_unit_of_work(ctx, finish_review, job_id, policy)
    return stage.value if stage else None


@app.task(name="kazi.score.deadlines")
def deadlines_task() -> list[str]:
    """Jobs whose deadline passed are scored with the answers they have; fully answered jobs
    whose after-answer event was missed are scored too, and reviewed jobs finish review."""
    return in_unit_of_work(get_context(), send_due_jobs)
