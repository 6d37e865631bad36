"""Keep a worker process running: restart it when it exits on its own.

Celery's worker can exit on a broker failure it cannot recover from (kombu 5.7 raises while
restoring unacknowledged messages over a dead Redis connection, and Celery calls that
unrecoverable). ``kazi worker`` runs it under this loop, so a broker restart costs a reconnect,
not a dead worker; a signal to ``kazi worker`` is passed on and ends the loop.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from types import FrameType

log = logging.getLogger(__name__)

# Restarts back off from 1 s to 30 s; a child that ran this long resets the backoff.
HEALTHY_RUN_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0


def supervise(
    cmd: Sequence[str],
    *,
    sleep: Callable[[float], None] = time.sleep,
    max_restarts: int | None = None,
) -> int:
    """Run ``cmd`` until it exits because we were asked to stop; returns its exit code."""
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, forward)
    backoff, restarts = 1.0, 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(list(cmd))
        code = child.wait()
        if stopping:
            return code
        if max_restarts is not None and restarts >= max_restarts:
            return code
        if time.monotonic() - started > HEALTHY_RUN_SECONDS:
            backoff = 1.0
        log.warning("worker exited with %s; starting it again in %.0f s", code, backoff)
        print(f"kazi worker: the worker exited ({code}); restarting in {backoff:.0f} s", flush=True)
        sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        restarts += 1
