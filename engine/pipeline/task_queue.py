"""The task-queue port and its Celery adapter (embedded filesystem broker, Redis, RabbitMQ)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from engine.pipeline.celery_config import celery_config
from engine.settings import Settings

# Publishing gives up fast when the broker is down: the message stays in the outbox and the
# beat relays it later, so a request never waits on a dead broker.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
# Seconds a readiness ping waits for the broker to accept a connection.
PING_TIMEOUT_S = 2.0


class TaskQueue(Protocol):
    def send(self, task: str, args: Sequence[Any], queue: str) -> None: ...

    def ping(self) -> None:
        """Raise unless the broker accepts a connection now (readiness check; no retries)."""
        ...


class CeleryTaskQueue:
    """Sends by task name through a producer-only Celery app configured like the workers'."""

    def __init__(self, settings: Settings) -> None:
        from celery import Celery

        self._app = Celery("kazi-producer", set_as_current=False)
        self._app.conf.update(celery_config(settings))

    def send(self, task: str, args: Sequence[Any], queue: str) -> None:
        self._app.send_task(
            task, args=list(args), queue=queue, retry=True, retry_policy=PUBLISH_RETRY
        )

    def ping(self) -> None:
        # A new connection, not a pooled one: a pooled connection can look alive after the
        # broker went away.
        with self._app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=PING_TIMEOUT_S)
