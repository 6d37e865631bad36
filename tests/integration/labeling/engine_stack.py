"""The engine wired to a real Label Studio for a test: its own API server (for webhooks), a
Celery worker on its own broker prefix with the Label Studio settings, and a sender for it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from engine.labeling.label_studio_server import LabelStudioServer, free_port
from tests.conftest import REPO_ROOT, TEST_VAR, WorkerProcess

WEBHOOK_SECRET = f"hook-{uuid.uuid4().hex}"  # 32+ bytes: the engine refuses shorter


@dataclass
class EngineStack:
    label_studio: LabelStudioServer
    port: int = field(default_factory=free_port)
    prefix: str = field(default_factory=lambda: f"kazi-ls-{uuid.uuid4().hex[:8]}:")
    api: subprocess.Popen[bytes] | None = None
    worker: WorkerProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "KAZI_PUBLIC_URL": self.url,
            "KAZI_LABEL_STUDIO_URL": self.label_studio.url,
            "KAZI_LABEL_STUDIO_TOKEN": self.label_studio.token,
            "KAZI_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "KAZI_BROKER_KEY_PREFIX": self.prefix,
        }

    @property
    def api_log(self) -> Path:
        return Path(TEST_VAR) / f"api-{self.port}.log"

    def log_tail(self) -> str:
        return self.api_log.read_text(errors="replace")[-3000:] if self.api_log.exists() else ""

    def start_api(self) -> None:
        log = self.api_log
        log.parent.mkdir(parents=True, exist_ok=True)
        self.api = subprocess.Popen(
            [sys.executable, "-m", "engine.cli.main", "serve", "--port", str(self.port)],
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"engine API did not start: {log.read_text()[-2000:]}")

    def stop_api(self) -> None:
        if self.api and self.api.poll() is None:
            self.api.terminate()
            self.api.wait(30)

    def start_worker(self) -> None:
        self.worker = WorkerProcess()
        self.worker.start(extra_env=self.env)

    def queue(self):  # type: ignore[no-untyped-def]
        """The task queue of this stack's broker prefix."""
        from engine.pipeline.task_queue import CeleryTaskQueue
        from engine.settings import get_settings

        return CeleryTaskQueue(get_settings().model_copy(update={"broker_key_prefix": self.prefix}))

    def uow(self):  # type: ignore[no-untyped-def]
        """A unit of work whose routed steps go to this stack's worker."""
        from engine.bootstrap import get_context
        from engine.unit_of_work import SqlAlchemyUnitOfWork

        return SqlAlchemyUnitOfWork(get_context().sessions, self.queue())

    def send(self, task: str, job_id: str, queue: str) -> None:
        self.queue().send(task, [job_id], queue)

    def stop(self) -> None:
        self.stop_api()
        if self.worker:
            self.worker.stop()
