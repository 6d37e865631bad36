"""Stage leases: a task working on a job's stage says so, and heart-beats while it runs.

The holder is ``host:pid:token``. A heartbeat thread renews the lease in its own short
transaction; the beat's stall sweep (engine/pipeline/stalls.py) resends the stage's task once
the heartbeat is older than ``stage_stall_seconds``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from engine.db.models import utcnow
from engine.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def holder_name(token: str | None = None) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{token or uuid.uuid4().hex[:12]}"


@contextmanager
def stage_lease(
    make_uow: Callable[[], UnitOfWork],
    job_id: str,
    *,
    interval_seconds: float,
    token: str | None = None,
) -> Iterator[str]:
    """Hold the job's stage lease for the duration of the block, heart-beating meanwhile."""
    holder = holder_name(token)
    with make_uow() as uow:
        job = uow.jobs.get(job_id)
        if job is None:
            yield holder
            return
        uow.stage_leases.hold(job_id, job.stage, holder, utcnow())
        uow.commit()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval_seconds):
            try:
                with make_uow() as beat_uow:
                    beat_uow.stage_leases.heartbeat(job_id, holder, utcnow())
                    beat_uow.commit()
            except Exception as exc:  # database away: the next beat tries again
                log.warning("stage lease heartbeat for job %s failed: %s", job_id, exc)

    thread = threading.Thread(target=beat, name=f"stage-lease-{job_id[:8]}", daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        stop.set()
        thread.join(timeout=interval_seconds + 5)
        try:
            with make_uow() as uow:
                uow.stage_leases.release(job_id, holder, utcnow())
                uow.commit()
        except Exception as exc:  # the sweep treats the lease as stale later
            log.warning("stage lease release for job %s failed: %s", job_id, exc)
