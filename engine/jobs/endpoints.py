"""Job intake and status routes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from engine.api.body_limit import JOB_JSON_BODY_LIMIT
from engine.api.deps import ClientId, Ctx, UoW
from engine.jobs import service
from engine.jobs.intake import IncomingFile, submit_job, submit_job_from_objects
from engine.net.outbound_client import OutboundClient
from engine.storage.object_keys import upload_key
from schemas.jobs import JobDetail, JobFromObjects, JobPage, JobSpec, TaskPage, UploadUrl

router = APIRouter(prefix="/v1", tags=["jobs"])

_MULTIPART_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["spec", "files"],
                    "properties": {
                        "spec": {"type": "string", "description": "JobSpec as JSON"},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/JobFromObjects"}},
        },
    }
}


def _validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]} for err in exc.errors()
    ]


@router.post(
    "/jobs",
    status_code=201,
    response_model=JobDetail,
    openapi_extra=_MULTIPART_DOC,
    summary="Submit a job: upload files (multipart) or reference stored objects (JSON)",
)
async def create_job(request: Request, ctx: Ctx, client_id: ClientId) -> JobDetail:
    """Caller: a client (API key). Media is streamed to the store before the job's one short
    transaction (a staged use case, so no request-wide unit of work)."""
    settings = ctx.settings
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        # The spec field may be as large as the JSON form's whole body: a spec too large for
        # either form gets the same 422 from JobSpec (schemas/jobs.py), not a parser's 400.
        form = await request.form(
            max_files=settings.max_files_per_job, max_fields=20, max_part_size=JOB_JSON_BODY_LIMIT
        )
        raw_spec = form.get("spec")
        if not isinstance(raw_spec, str):
            raise HTTPException(422, "multipart field 'spec' (the job spec as JSON) is required")
        try:
            spec = JobSpec.model_validate(json.loads(raw_spec))
        except json.JSONDecodeError as exc:
            raise HTTPException(422, f"spec is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise HTTPException(422, "spec is not valid JSON: nested too deeply") from exc
        except ValidationError as exc:
            raise HTTPException(422, _validation_detail(exc)) from exc
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        files = [IncomingFile(filename=f.filename, stream=f.file) for f in uploads]  # type: ignore[arg-type]
        job_id = await run_in_threadpool(
            submit_job,
            ctx.uow(),
            ctx.store,
            client_id=client_id,
            spec=spec,
            files=files,
            max_upload_bytes=settings.max_upload_bytes,
            max_files=settings.max_files_per_job,
            outbound=OutboundClient.from_settings(settings),
        )
        await form.close()
    elif content_type.startswith("application/json"):
        try:
            body = JobFromObjects.model_validate_json(await request.body())
        except ValidationError as exc:
            raise HTTPException(422, _validation_detail(exc)) from exc
        job_id = await run_in_threadpool(
            submit_job_from_objects,
            ctx.uow(),
            ctx.store,
            client_id=client_id,
            spec=body.spec,
            refs=body.sources,
            max_upload_bytes=settings.max_upload_bytes,
            max_files=settings.max_files_per_job,
            outbound=OutboundClient.from_settings(settings),
        )
    else:
        raise HTTPException(415, "send multipart/form-data (spec + files) or application/json")
    return await run_in_threadpool(ctx.in_unit_of_work, service.get_job_detail, client_id, job_id)


@router.get("/jobs", response_model=JobPage)
def list_jobs(
    uow: UoW,
    client_id: ClientId,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> JobPage:
    return service.list_jobs(uow, client_id, limit, offset)


@router.get("/jobs/{job_id}", response_model=JobDetail)
def get_job(job_id: str, uow: UoW, client_id: ClientId) -> JobDetail:
    return service.get_job_detail(uow, client_id, job_id)


@router.get("/jobs/{job_id}/tasks", response_model=TaskPage)
def list_tasks(
    job_id: str,
    ctx: Ctx,
    uow: UoW,
    client_id: ClientId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> TaskPage:
    expiry = timedelta(seconds=ctx.settings.presign_expiry_seconds)
    return service.list_tasks(
        uow,
        client_id,
        job_id,
        limit,
        offset,
        media_url=lambda key: ctx.store.presigned_get_url(key, expiry),
    )


@router.post("/uploads", response_model=UploadUrl, status_code=201)
def create_upload_url(ctx: Ctx, client_id: ClientId) -> UploadUrl:
    """A presigned PUT URL under the client's own prefix; reference the key in a JSON job."""
    expiry = timedelta(seconds=ctx.settings.presign_expiry_seconds)
    key = upload_key(client_id, str(uuid.uuid4()))
    return UploadUrl(
        key=key, url=ctx.store.presigned_put_url(key, expiry), expires_at=datetime.now(UTC) + expiry
    )
