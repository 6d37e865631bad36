"""The ``assemble`` queue: deliverables, then the client's callback."""

from __future__ import annotations

import httpx
from sqlalchemy.exc import OperationalError

from engine.assembly.callbacks import notify_client
from engine.assembly.service import assemble_job
from engine.billing.errors import InvoiceOutdated
from engine.net.outbound_client import OutboundClient
from engine.storage.object_store import TransientStorageError
from workers.celery_app import TRANSIENT_RETRY, app
from workers.tasks import holding_stage


@app.task(
    name="kazi.assemble.assemble_job",
    # InvoiceOutdated: an earning posted between the invoice and the delivery commit: build again.
    autoretry_for=(TransientStorageError, OperationalError, InvoiceOutdated),
    **TRANSIENT_RETRY,
)
def assemble_job_task(job_id: str) -> str | None:
    with holding_stage(job_id) as ctx:
        stage = assemble_job(ctx.uow(), ctx.store, job_id)
    return stage.value if stage else None


@app.task(
    name="kazi.assemble.notify_client",
    autoretry_for=(httpx.HTTPError, OperationalError),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=10,
)
def notify_client_task(job_id: str) -> int | None:
    """POST the signed delivery notice; retried with backoff while the client's server fails.
    A refused URL or a redirect is recorded in the job's history and not retried (returns None)."""
    from engine.bootstrap import get_context

    ctx = get_context()
    outbound = OutboundClient.from_settings(ctx.settings)
    return notify_client(ctx.uow(), ctx.settings.signing_secret, job_id, outbound)
