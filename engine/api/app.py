"""The engine's HTTP API (OpenAPI at /docs)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from engine.api.access import declare_access
from engine.api.body_limit import BodyLimits, BodySizeLimit
from engine.api.errors import document_errors, install_error_handlers
from engine.api.health import router as health_router
from engine.api.input_guard import RefuseControlCharacters
from engine.api.offline_docs import serve_docs_offline
from engine.assembly.endpoints import router as delivery_router
from engine.billing.endpoints import router as billing_router
from engine.bootstrap import EngineContext, get_context
from engine.earnings.endpoints import router as earnings_router
from engine.jobs.endpoints import router as jobs_router
from engine.label_studio_sync.endpoints import router as hooks_router
from engine.media_links.endpoints import router as media_router
from engine.payouts.endpoints import hooks_router as payout_hooks_router
from engine.payouts.endpoints import staff_router as payout_staff_router
from engine.payouts.endpoints import work_router as payout_work_router
from engine.quality.endpoints import router as review_router
from engine.statements.endpoints import router as statements_router
from engine.training.endpoints import router as training_router
from engine.work.endpoints import router as work_router
from engine.work.label_studio_entry import router as ls_entry_router
from engine.worker_app.pages import router as worker_app_router
from engine.worker_app.task_pages import router as task_pages_router
from engine.worker_app.wiring import install_worker_app

GIL_SWITCH_INTERVAL_S = 0.001


def create_app(ctx: EngineContext | None = None) -> FastAPI:
    context = ctx or get_context()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in this pool; sized with the database pool (see Settings.api_threads).
        anyio.to_thread.current_default_thread_limiter().total_tokens = context.settings.api_threads
        # The event loop thread (reading requests, writing responses) waits for the GIL behind
        # the request threads; at Python's default 5 ms switch interval those waits were most of
        # the worker API's p99 under load (bench/distribution.py: 84 ms -> 30 ms at 1 ms).
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        yield

    app = FastAPI(
        title="Kazi",
        version="0.1.0",
        description="Annotation and transcription task-processing engine.",
        lifespan=lifespan,
        # /docs is served with local assets (engine/api/offline_docs.py): it works offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = context
    # Each route's body limit, counted as the body arrives (engine/api/body_limit.py); the
    # control-character check on paths and query strings runs first, outermost.
    app.add_middleware(BodySizeLimit, limits=BodyLimits(context.settings.max_upload_bytes))
    app.add_middleware(RefuseControlCharacters)

    # Every error, raised anywhere, answers with one body (engine/api/errors.py: ErrorBody).
    install_error_handlers(app)
    document_errors(app)

    serve_docs_offline(app)
    app.include_router(health_router)
    app.include_router(jobs_router)
    app.include_router(media_router)
    app.include_router(payout_work_router)
    app.include_router(work_router)
    app.include_router(hooks_router)
    app.include_router(ls_entry_router)
    app.include_router(review_router)
    app.include_router(earnings_router)
    app.include_router(delivery_router)
    app.include_router(billing_router)
    app.include_router(statements_router)
    app.include_router(payout_staff_router)
    app.include_router(payout_hooks_router)
    # The worker app (/app): its pages, static files, gzip and error pages.
    app.include_router(worker_app_router)
    app.include_router(task_pages_router)
    app.include_router(training_router)
    install_worker_app(app)
    # Every route says who may call it (engine/api/access.py); an undeclared one stops here.
    declare_access(app)
    return app
