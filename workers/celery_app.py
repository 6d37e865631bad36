"""The Celery application: one named queue per pipeline stage, plus the pipeline's own.

Embedded default: kombu's filesystem transport under ``var/broker`` and SQLite results, driven by
a real worker process (``kazi worker``). Production: Redis or RabbitMQ broker (``KAZI_BROKER_URL``).
The settings are shared with the engine's producer (engine/pipeline/celery_config.py).
"""

from __future__ import annotations

from celery import Celery

from engine.pipeline.celery_config import ALL_QUEUES, celery_config
from engine.settings import Settings, get_settings

QUEUES = ALL_QUEUES

TASK_MODULES = [
    "workers.pipeline",
    "workers.ingest",
    "workers.asr",
    "workers.publish",
    "workers.score",
    "workers.assemble",
]

# Retry policy for transient I/O failures (object store, database connection).
TRANSIENT_RETRY: dict[str, object] = {
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 12,
}


def make_celery(settings: Settings) -> Celery:
    app = Celery("kazi", include=TASK_MODULES)
    app.conf.update(celery_config(settings))
    return app


app = make_celery(get_settings())
