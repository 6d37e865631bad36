"""The Celery application: one named queue per pipeline stage.

Embedded default: kombu's filesystem transport under ``var/broker`` and SQLite results, driven by
a real worker process (``kazi worker``). Production: Redis or RabbitMQ broker (``KAZI_BROKER_URL``).
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from engine.settings import Settings, get_settings

QUEUES = ("ingest", "asr", "publish", "score", "assemble")

TASK_MODULES = [
    "workers.ingest",
    "workers.asr",
    "workers.publish",
    "workers.score",
    "workers.assemble",
]

# Retry policy for transient I/O failures (object store, database connection).
TRANSIENT_RETRY: dict[str, object] = {
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


def make_celery(settings: Settings) -> Celery:
    app = Celery("kazi", include=TASK_MODULES)
    broker = settings.resolved_broker_url()
    transport_options: dict[str, object] = {}
    if broker.startswith("filesystem://"):
        folder = settings.broker_folder()
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            "control_folder": str(folder / "control"),
        }
    else:
        # A task left unacknowledged this long is handed to another worker.
        transport_options = {"visibility_timeout": settings.broker_visibility_timeout}
        if settings.broker_key_prefix:
            transport_options["global_keyprefix"] = settings.broker_key_prefix
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    app.conf.update(
        broker_url=broker,
        result_backend=settings.resolved_result_backend(),
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="ingest",
        task_routes={f"kazi.{name}.*": {"queue": name} for name in QUEUES},
        # Acknowledge after the task ran, and requeue it if its worker dies mid-task.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=7 * 24 * 3600,
        worker_hijack_root_logger=False,
        beat_schedule={
            "requeue-stalled-jobs": {"task": "kazi.ingest.requeue_stalled", "schedule": 60.0},
            "expire-leases": {"task": "kazi.publish.expire_leases", "schedule": 60.0},
            "score-past-deadline": {"task": "kazi.score.deadlines", "schedule": 60.0},
            "reconcile-label-studio": {
                "task": "kazi.publish.reconcile",
                "schedule": float(settings.reconcile_seconds),
            },
        },
        beat_schedule_filename=str(settings.var_dir / "celerybeat-schedule"),
    )
    return app


app = make_celery(get_settings())
