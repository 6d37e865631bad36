"""The worker's way into Label Studio: lease through the engine, then open that task there."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.api.deps import Ctx, DbSession
from engine.publishing.repository import PublishRepository
from engine.work import service
from engine.work.endpoints import distribution_settings
from engine.work.start_links import START_ROUTE, verify_start_link
from engine.workforce.repository import WorkerRepository

router = APIRouter(tags=["work"])


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<meta name='viewport' content='width=device-width'></head>"
        f"<body style='font-family:sans-serif;max-width:36em;margin:3em auto'>"
        f"<h1>{escape(title)}</h1><p>{escape(body)}</p></body></html>"
    )
    return HTMLResponse(html, status_code=status)


@router.get(START_ROUTE, summary="Lease the next task and open it in Label Studio")
def start_in_label_studio(
    ctx: Ctx,
    session: DbSession,
    worker: Annotated[str, Query()],
    signature: Annotated[str, Query()],
    job_id: Annotated[str | None, Query()] = None,
) -> Response:
    if not verify_start_link(worker, signature, ctx.settings.signing_secret):
        raise HTTPException(403, "this start link is not valid; ask your coordinator for yours")
    if WorkerRepository(session).get(worker) is None:
        raise HTTPException(403, "this start link is not valid; ask your coordinator for yours")
    try:
        lease = service.lease_next(
            session, worker, distribution_settings(ctx), job_id=job_id, channel="label_studio"
        )
    except service.WorkError as exc:
        session.rollback()
        return _page("No work for now", exc.message, exc.status_code)
    if lease is None:
        session.rollback()
        return _page("No work for now", "No task is waiting for you. Try again later.")
    link = PublishRepository(session).ls_task_for(lease.task_id, lease.replica or 0)
    project = PublishRepository(session).project_by_ls_id(link.ls_project_id) if link else None
    if link is None or project is None:
        # The job was published to the worker API only; do not hold the task hostage.
        service.release(session, worker, lease.lease_id)
        session.commit()
        return _page("No work for now", "Your next task is not in Label Studio; use the app.")
    session.commit()
    base = ctx.settings.label_studio_public_url or ctx.settings.label_studio_url
    return RedirectResponse(
        f"{base.rstrip('/')}/projects/{project.ls_project_id}/data?task={link.ls_task_id}",
        status_code=303,
    )
