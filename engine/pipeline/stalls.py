"""The stall sweep: resend the task of every job whose engine-owned stage shows no life.

A job is stalled when it sits in a stage the engine owes work on (``routing.ENGINE_STAGES``),
its last sign of life (stage change, stage-lease heartbeat, last requeue) is older than
``stall_seconds``, and it has no unsent outbox message (the relay owns those). That covers a
worker killed mid-stage, a message the broker lost, and a send that never happened. A lease
held by a process of this host that no longer exists is stale at once: a worker restarted on
the same machine resumes its jobs within one sweep.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from engine.db.models import utcnow
from engine.domain.job_stage import JobKind, JobStage
from engine.domain.lease_rules import as_utc
from engine.pipeline.routing import ENGINE_STAGES, JobFacts, on_stall
from engine.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def holder_is_dead_here(holder: str | None) -> bool:
    """True when the holder (``host:pid:token``) names a process of this host that is gone."""
    host, _, rest = (holder or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def requeue_stalled(uow: UnitOfWork, stall_seconds: float) -> list[str]:
    """Write the resuming step of each stalled job to the outbox; returns their ids."""
    now = utcnow()
    cutoff = now - timedelta(seconds=stall_seconds)
    # A dead holder may have committed moments ago: only the job row's age is required then.
    candidates = uow.stage_leases.jobs_in_stages_quiet_since(
        sorted(s.value for s in ENGINE_STAGES), now - timedelta(seconds=min(stall_seconds, 5))
    )
    quiet = []
    for job, lease in candidates:
        heartbeat = as_utc(lease.heartbeat_at) if lease is not None else None
        job_quiet = as_utc(job.updated_at) < cutoff  # type: ignore[operator]
        lease_quiet = heartbeat is None or heartbeat < cutoff
        holder_dead = lease is not None and holder_is_dead_here(lease.holder)
        if holder_dead or (job_quiet and lease_quiet):
            quiet.append(job)
    waiting = uow.outbox.jobs_with_pending([job.id for job in quiet])
    requeued = []
    for job in quiet:
        if job.id in waiting:
            continue
        stage = JobStage(job.stage)
        step = on_stall(stage, JobFacts(JobKind(job.kind)))
        if step is None:
            continue
        uow.outbox.add(step, [job.id], job.id)
        uow.stage_leases.note_requeue(job.id, stage.value, now)
        log.warning("job %s stalled in %s; sent %s again", job.id, stage.value, step.task)
        requeued.append(job.id)
    return requeued
