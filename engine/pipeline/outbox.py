"""Write the next pipeline step into the unit of work's outbox (the routing table decides)."""

from __future__ import annotations

from typing import Any

from engine.db.models import JobRow
from engine.domain.job_stage import JobKind, JobStage
from engine.pipeline.routing import ON_EVENT, JobFacts, PipelineEvent, on_entering
from engine.unit_of_work import UnitOfWork


def job_facts(job: JobRow) -> JobFacts:
    return JobFacts(JobKind(job.kind), has_callback=bool((job.spec or {}).get("callback_url")))


def route_stage_entered(uow: UnitOfWork, job: JobRow, stage: JobStage) -> None:
    step = on_entering(stage, job_facts(job))
    if step is not None:
        uow.outbox.add(step, [job.id], job.id)


def emit(uow: UnitOfWork, event: PipelineEvent, job_id: str, *extra: Any) -> None:
    uow.outbox.add(ON_EVENT[event], [job_id, *extra], job_id)
