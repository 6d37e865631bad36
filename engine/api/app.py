"""The engine's HTTP API (OpenAPI at /docs)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from engine.assembly.endpoints import router as delivery_router
from engine.bootstrap import EngineContext, get_context
from engine.jobs.endpoints import router as jobs_router
from engine.jobs.errors import JobError
from engine.label_studio_sync.endpoints import router as hooks_router
from engine.media_links.endpoints import router as media_router
from engine.quality.endpoints import router as review_router
from engine.work.endpoints import router as work_router
from engine.work.label_studio_entry import router as ls_entry_router


def create_app(ctx: EngineContext | None = None) -> FastAPI:
    app = FastAPI(
        title="Kazi",
        version="0.1.0",
        description="Annotation and transcription task-processing engine.",
    )
    app.state.ctx = ctx or get_context()
    limit = app.state.ctx.settings.max_upload_bytes

    @app.middleware("http")
    async def refuse_oversized(request: Request, call_next):  # type: ignore[no-untyped-def]
        # Refuse a declared oversized body before reading any of it.
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit + 1024 * 1024:
            return JSONResponse(
                status_code=413,
                content={"detail": f"request is larger than the limit of {limit} bytes"},
            )
        return await call_next(request)

    @app.exception_handler(JobError)
    async def job_error(_request: Request, exc: JobError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.message})

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(jobs_router)
    app.include_router(media_router)
    app.include_router(work_router)
    app.include_router(hooks_router)
    app.include_router(ls_entry_router)
    app.include_router(review_router)
    app.include_router(delivery_router)
    return app
