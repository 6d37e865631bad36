"""The worker's way into Label Studio: lease through the engine, then open that task there."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.api.deps import Ctx, run_unit_of_work
from engine.publishing.ls_server import label_studio_server
from engine.unit_of_work import UnitOfWork
from engine.work import service
from engine.work.endpoints import distribution_settings
from engine.work.service import DistributionSettings
from engine.work.start_links import START_ROUTE, verify_start_link

router = APIRouter(tags=["work"])

INVALID_LINK = "this start link is not valid; ask your coordinator for yours"


class UnknownWorker(service.WorkError):
    status_code = 403


@dataclass(frozen=True)
class LabelStudioTask:
    ls_project_id: int
    ls_task_id: int


def lease_in_label_studio(
    uow: UnitOfWork,
    worker_id: str,
    settings: DistributionSettings,
    job_id: str | None,
    server: str,
) -> LabelStudioTask | str:
    """Lease the worker's next task and find it in Label Studio; a message when there is none
    there (a lease on a task published to the worker API only is given back at once)."""
    if uow.workers.get(worker_id) is None:
        raise UnknownWorker(INVALID_LINK)
    lease = service.lease_next(uow, worker_id, settings, job_id=job_id, channel="label_studio")
    if lease is None:
        return "No task is waiting for you. Try again later."
    link = uow.publishing.ls_task_for(lease.task_id, lease.replica or 0, server)
    project = uow.publishing.project_by_ls_id(server, link.ls_project_id) if link else None
    if link is None or project is None:
        # The job was published to the worker API only; do not hold the task hostage.
        service.release(uow, worker_id, lease.lease_id)
        return "Your next task is not in Label Studio; use the app."
    return LabelStudioTask(project.ls_project_id, link.ls_task_id)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<meta name='viewport' content='width=device-width'></head>"
        f"<body style='font-family:sans-serif;max-width:36em;margin:3em auto'>"
        f"<h1>{escape(title)}</h1><p>{escape(body)}</p></body></html>"
    )
    return HTMLResponse(html, status_code=status)


@router.get(START_ROUTE, summary="Lease the next task and open it in Label Studio")
async def start_in_label_studio(
    ctx: Ctx,
    worker: Annotated[str, Query()],
    signature: Annotated[str, Query()],
    job_id: Annotated[str | None, Query()] = None,
) -> Response:
    if not verify_start_link(worker, signature, ctx.settings.signing_keys()):
        raise HTTPException(403, INVALID_LINK)
    try:
        found = await run_unit_of_work(
            ctx, lease_in_label_studio, worker, distribution_settings(ctx), job_id,
            label_studio_server(ctx.settings.label_studio_url),
        )  # fmt: skip
    except UnknownWorker as exc:
        raise HTTPException(403, exc.message) from exc
    except service.WorkError as exc:
        return _page("No work for now", exc.message, exc.status_code)
    if isinstance(found, str):
        return _page("No work for now", found)
    base = ctx.settings.label_studio_public_url or ctx.settings.label_studio_url
    return RedirectResponse(
        f"{base.rstrip('/')}/projects/{found.ls_project_id}/data?task={found.ls_task_id}",
        status_code=303,
    )
