"""Celery settings shared by the workers and the engine's producer (one definition)."""

from __future__ import annotations

from typing import Any

from kombu import Queue

from engine.pipeline.routing import QUEUES
from engine.settings import Settings

# Queue of the pipeline's own housekeeping (outbox relay, stall sweep); every worker serves it.
PIPELINE_QUEUE = "pipeline"
ALL_QUEUES: tuple[str, ...] = (*QUEUES, PIPELINE_QUEUE)


def celery_config(settings: Settings) -> dict[str, Any]:
    broker = settings.resolved_broker_url()
    transport_options: dict[str, object]
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
        # Redelivery of a dead worker's message; the stall sweep resumes the stage much sooner
        # (stage_stall_seconds), so this only bounds how long a stray copy waits.
        transport_options = {"visibility_timeout": settings.broker_visibility_timeout}
        if settings.broker_key_prefix:
            transport_options["global_keyprefix"] = settings.broker_key_prefix
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": broker,
        "result_backend": settings.resolved_result_backend(),
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "task_queues": [Queue(name) for name in ALL_QUEUES],
        "task_default_queue": PIPELINE_QUEUE,
        "task_routes": {f"kazi.{name}.*": {"queue": name} for name in ALL_QUEUES},
        # Acknowledge after the task ran, and requeue it if its worker dies mid-task.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 7 * 24 * 3600,
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "relay-outbox": {
                "task": "kazi.pipeline.relay_outbox",
                "schedule": float(settings.outbox_relay_seconds),
            },
            "requeue-stalled-stages": {
                "task": "kazi.pipeline.requeue_stalled",
                "schedule": float(settings.stall_sweep_seconds),
            },
            "expire-leases": {"task": "kazi.publish.expire_leases", "schedule": 60.0},
            "score-past-deadline": {"task": "kazi.score.deadlines", "schedule": 60.0},
            # Earnings past their hold become payable; hourly is well inside a day's hold.
            "release-held-earnings": {"task": "kazi.pipeline.release_earnings", "schedule": 3600.0},
            "reconcile-label-studio": {
                "task": "kazi.publish.reconcile",
                "schedule": float(settings.reconcile_seconds),
            },
        },
        "beat_schedule_filename": str(settings.var_dir / "celerybeat-schedule"),
    }
