"""Delivery routes: list a job's deliverables with download links; the callback secret."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException

from engine.api.deps import ClientId, Ctx, DbSession
from engine.assembly.repository import AssemblyRepository
from engine.assembly.service import callback_secret
from engine.jobs.repository import JobRepository
from schemas.jobs import DeliverableList, DeliverableView

router = APIRouter(prefix="/v1", tags=["delivery"])


@router.get("/jobs/{job_id}/deliverables", response_model=DeliverableList)
def list_deliverables(
    job_id: str, ctx: Ctx, session: DbSession, client_id: ClientId
) -> DeliverableList:
    job = JobRepository(session).get_for_client(job_id, client_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    expiry = timedelta(seconds=ctx.settings.presign_expiry_seconds)
    rows = AssemblyRepository(session).deliverables(job_id)
    return DeliverableList(
        job_id=job_id,
        stage=job.stage,
        items=[
            DeliverableView(
                name=r.name,
                kind=r.kind,
                content_type=r.content_type,
                size_bytes=r.size_bytes,
                sha256=r.sha256,
                created_at=r.created_at,
                url=ctx.store.presigned_get_url(r.object_key, expiry),
            )  # fmt: skip
            for r in rows
        ],
    )


@router.get("/callback-secret", summary="The key that signs your delivery callbacks")
def get_callback_secret(ctx: Ctx, client_id: ClientId) -> dict[str, str]:
    return {
        "secret": callback_secret(ctx.settings.signing_secret, client_id),
        "header": "X-Kazi-Signature",
        "scheme": "sha256=HMAC-SHA256(secret, raw request body), hex",
    }
