"""Signed media route for the local object store (S3/MinIO serves presigned URLs itself).

Label Studio and other browsers load task audio cross-origin, so responses carry CORS headers.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from typing import Annotated, BinaryIO, cast

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse

from engine.api.deps import Ctx
from engine.storage.local_store import LocalObjectStore
from engine.storage.object_store import ObjectTooLarge
from engine.storage.signed_urls import verify_media_signature

router = APIRouter(prefix="/v1/media", tags=["media"])

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges",
}


def _check(keys: Sequence[str], key: str, method: str, expires: int, signature: str) -> None:
    if not verify_media_signature(key, method, expires, signature, keys, now=time.time()):
        raise HTTPException(403, "media link is invalid or expired", headers=CORS_HEADERS)


@router.head("/{key:path}", operation_id="head_media")
@router.get("/{key:path}", operation_id="get_media")
def get_media(
    key: str,
    ctx: Ctx,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query()],
) -> Response:
    # HEAD shares GET's signature: it reveals only the headers of what GET would serve.
    _check(ctx.settings.signing_keys(), key, "GET", expires, signature)
    info = ctx.store.stat(key)
    if info is None:
        raise HTTPException(404, "media not found", headers=CORS_HEADERS)
    if isinstance(ctx.store, LocalObjectStore):
        # FileResponse answers Range requests (206), so players can seek in long audio.
        return FileResponse(
            ctx.store.path_for(key),
            media_type=info.content_type or "application/octet-stream",
            headers={**CORS_HEADERS, "Cache-Control": "private, max-age=300"},
        )

    def body():  # type: ignore[no-untyped-def]
        with ctx.store.open_stream(key) as stream:
            while chunk := stream.read(256 * 1024):
                yield chunk

    return StreamingResponse(
        body(),
        media_type=info.content_type or "application/octet-stream",
        headers={
            **CORS_HEADERS,
            "Content-Length": str(info.size),
            "Cache-Control": "private, max-age=300",
            "Accept-Ranges": "none",
        },
    )


@router.put("/{key:path}", status_code=200)
async def put_media(
    key: str,
    request: Request,
    ctx: Ctx,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query()],
) -> Response:
    _check(ctx.settings.signing_keys(), key, "PUT", expires, signature)
    limit = ctx.settings.max_upload_bytes
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"upload is larger than the limit of {limit} bytes")
            spool.write(chunk)
        spool.seek(0)
        content_type = request.headers.get("content-type", "application/octet-stream")
        try:
            await run_in_threadpool(
                ctx.store.put_stream,
                key,
                cast(BinaryIO, spool),
                content_type=content_type,
                max_bytes=limit,
            )
        except ObjectTooLarge as exc:
            raise HTTPException(413, str(exc)) from exc
    return Response(status_code=200, headers=CORS_HEADERS)


@router.options("/{key:path}")
def media_preflight(key: str) -> Response:
    return Response(
        status_code=204,
        headers={
            **CORS_HEADERS,
            "Access-Control-Allow-Methods": "GET, PUT, OPTIONS",
            "Access-Control-Allow-Headers": "Range, Content-Type",
            "Access-Control-Max-Age": "3600",
        },
    )
