"""Liveness and readiness probes, for load balancers, orchestrators and compose healthchecks.

Public routes: no API key (a probe has none), and they say nothing a caller could misuse:
a failed check names the exception type only; the details go to the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from engine.api.deps import Ctx
from engine.api.errors import RETRY_AFTER_S
from engine.bootstrap import EngineContext

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0
# An empty listing under this prefix is the object-store probe (read-only; it fails when the
# store is unreachable, refuses the credentials or has lost its bucket).
STORE_PROBE_PREFIX = "kazi-health/"
# Checks run here, not in the request thread pool: a check stuck on a dead host (it is
# abandoned after CHECK_TIMEOUT_S but its thread runs on) must not take request threads.
_check_threads = ThreadPoolExecutor(max_workers=6, thread_name_prefix="kazi-health")

PUBLIC: dict[str, Any] = {"security": []}  # OpenAPI: callable without credentials

router = APIRouter(tags=["ops"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class CheckResult(BaseModel):
    status: Literal["ok", "failed"]
    seconds: float
    error: str | None = None


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, CheckResult]


class NotReady(Readiness):
    """The 503 body: the checks, plus ``detail`` and ``code`` like every error body."""

    detail: str
    code: Literal["not_ready"] = "not_ready"


def _database(ctx: EngineContext) -> None:
    with ctx.sessions() as session:
        session.execute(text("SELECT 1"))


def _broker(ctx: EngineContext) -> None:
    ctx.queue.ping()


def _object_store(ctx: EngineContext) -> None:
    next(iter(ctx.store.list_keys(STORE_PROBE_PREFIX)), None)


CHECKS: dict[str, Callable[[EngineContext], None]] = {
    "database": _database,
    "broker": _broker,
    "object_store": _object_store,
}


async def _run_check(
    name: str, check: Callable[[EngineContext], None], ctx: EngineContext
) -> CheckResult:
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    error: str | None = None
    try:
        await asyncio.wait_for(
            loop.run_in_executor(_check_threads, check, ctx), timeout=CHECK_TIMEOUT_S
        )
    except TimeoutError:
        error = f"no answer in {CHECK_TIMEOUT_S:g} s"
        log.warning("readiness check %s: %s", name, error)
    except Exception as exc:
        error = type(exc).__name__
        log.warning("readiness check %s failed: %s", name, exc, exc_info=exc)
    seconds = round(time.monotonic() - started, 3)
    return CheckResult(status="failed" if error else "ok", seconds=seconds, error=error)


async def live() -> Liveness:
    """Public. The process runs and answers; no I/O (a database outage must not get the
    process restarted)."""
    return Liveness()


router.add_api_route(
    "/health/live", live, methods=["GET"], summary="Liveness", openapi_extra=PUBLIC
)
router.add_api_route(
    "/health",
    live,
    methods=["GET"],
    summary="Liveness (older path, same as /health/live)",
    deprecated=True,
    openapi_extra=PUBLIC,
)


@router.get(
    "/health/ready",
    summary="Readiness: database, broker and object store",
    response_model=Readiness,
    responses={503: {"model": NotReady, "description": "A check failed (with Retry-After)"}},
    openapi_extra=PUBLIC,
)
async def ready(ctx: Ctx) -> JSONResponse:
    """Public. 200 when the database answers ``SELECT 1``, the broker accepts a connection and
    the object store answers a listing, each within 2 s (run at the same time); else 503 with
    the same per-check body plus ``detail`` and ``code`` like every error."""
    names = list(CHECKS)
    results = await asyncio.gather(*(_run_check(n, CHECKS[n], ctx) for n in names))
    checks = dict(zip(names, results, strict=True))
    failed = [name for name, result in checks.items() if result.status == "failed"]
    if not failed:
        return JSONResponse(
            Readiness(status="ready", checks=checks).model_dump(mode="json", exclude_none=True)
        )
    body = NotReady(
        status="not_ready", checks=checks, detail=f"not ready: {', '.join(failed)} failed"
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
