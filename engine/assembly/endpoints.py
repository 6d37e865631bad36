"""Delivery routes: list a job's deliverables with download links; the callback secret."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from engine.api.deps import ClientId, Ctx, UoW
from engine.assembly.callbacks import callback_secret
from engine.assembly.service import deliverables_of
from schemas.jobs import DeliverableList

router = APIRouter(prefix="/v1", tags=["delivery"])


@router.get("/jobs/{job_id}/deliverables", response_model=DeliverableList)
def list_deliverables(job_id: str, ctx: Ctx, uow: UoW, client_id: ClientId) -> DeliverableList:
    """Caller: the client that owns the job (API key)."""
    expiry = timedelta(seconds=ctx.settings.presign_expiry_seconds)
    return deliverables_of(
        uow, client_id, job_id, lambda key: ctx.store.presigned_get_url(key, expiry)
    )


@router.get("/callback-secret", summary="The key that signs your delivery callbacks")
def get_callback_secret(ctx: Ctx, client_id: ClientId) -> dict[str, str]:
    return {
        "secret": callback_secret(ctx.settings.signing_secret, client_id),
        "header": "X-Kazi-Signature",
        "scheme": "sha256=HMAC-SHA256(secret, raw request body), hex",
    }
