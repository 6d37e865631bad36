"""Run a real Celery worker process for the CLI when the embedded broker is in use.

With the filesystem broker nobody else is serving the queues on a fresh machine, so
``kazi submit --wait`` starts a worker for the duration of the wait. With Redis or RabbitMQ
the deployment's own workers (``kazi worker`` / docker-compose) do the work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from engine.pipeline.celery_config import ALL_QUEUES as QUEUES
from engine.settings import Settings


def worker_command(
    queues: list[str], concurrency: int | None, loglevel: str = "WARNING", beat: bool = False
) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "--queues",
        ",".join(queues),
        "--loglevel",
        loglevel,
        "--without-gossip",
        "--without-mingle",
    ]
    if concurrency:
        cmd += ["--concurrency", str(concurrency)]
    if beat:
        # Periodic housekeeping (requeueing stalled jobs); run it in exactly one worker.
        cmd += ["--beat"]
    return cmd


@contextmanager
def embedded_worker(settings: Settings) -> Iterator[subprocess.Popen[bytes] | None]:
    if not settings.resolved_broker_url().startswith("filesystem://"):
        yield None
        return
    log_path = settings.var_dir / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            worker_command(list(QUEUES), settings.worker_concurrency),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ},
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            # Warm shutdown lets a running task finish its transaction first.
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
