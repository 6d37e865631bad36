"""What every pipeline task shares: one unit of work per step, and the stage lease."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from engine.bootstrap import EngineContext, get_context
from engine.pipeline.stage_leases import stage_lease

T = TypeVar("T")


def in_unit_of_work(ctx: EngineContext, use_case: Callable[..., T], *args: Any) -> T:
    """Run ``use_case(uow, *args)`` in one unit of work that commits when it returns."""
    return ctx.in_unit_of_work(use_case, *args)


@contextmanager
def holding_stage(job_id: str, token: str | None = None) -> Iterator[EngineContext]:
    """The task works on the job's current stage: hold its stage lease and heart-beat, so the
    stall sweep leaves it alone while it lives and resends it soon after it dies."""
    ctx = get_context()
    # Often enough that a lease released by a sibling batch is taken back well before a stall.
    interval = max(1.0, min(10.0, ctx.settings.stage_stall_seconds / 4))
    with stage_lease(ctx.uow, job_id, interval_seconds=interval, token=token):
        yield ctx
