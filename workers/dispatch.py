"""Send pipeline tasks by name, so entrypoints need not import task modules."""

from __future__ import annotations

from workers.celery_app import app


def enqueue_split(job_id: str) -> None:
    app.send_task("kazi.ingest.split_job", args=[job_id], queue="ingest")


def enqueue_drafts(job_id: str) -> None:
    app.send_task("kazi.asr.draft_job", args=[job_id], queue="asr")


def enqueue_publish(job_id: str) -> None:
    app.send_task("kazi.publish.publish_job", args=[job_id], queue="publish")


def enqueue_score(job_id: str) -> None:
    app.send_task("kazi.score.score_job", args=[job_id], queue="score")


def enqueue_finish_review(job_id: str) -> None:
    app.send_task("kazi.score.finish_review", args=[job_id], queue="score")


def enqueue_assemble(job_id: str) -> None:
    app.send_task("kazi.assemble.assemble_job", args=[job_id], queue="assemble")


def enqueue_publish_review(job_id: str) -> None:
    app.send_task("kazi.publish.publish_review", args=[job_id], queue="publish")
