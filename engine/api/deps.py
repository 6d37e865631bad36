"""FastAPI dependencies: the engine context, the request's unit of work, the calling client.

One unit of work per request: it commits when the route returns and rolls back when it raises
(``scope="function"`` makes the commit happen before the response is sent, so a client never
sees success for a transaction that failed). Routes never commit by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from engine.bootstrap import EngineContext
from engine.clients.service import authenticate
from engine.unit_of_work import UnitOfWork

T = TypeVar("T")


def get_ctx(request: Request) -> EngineContext:
    ctx: EngineContext = request.app.state.ctx
    return ctx


def get_uow(ctx: Annotated[EngineContext, Depends(get_ctx)]) -> Iterator[UnitOfWork]:
    with ctx.uow() as uow:
        yield uow
        uow.commit()


def in_unit_of_work(ctx: EngineContext, use_case: Callable[..., T], *args: Any) -> T:
    """Run ``use_case(uow, *args)`` in one unit of work that commits when it returns."""
    return ctx.in_unit_of_work(use_case, *args)


async def run_unit_of_work(ctx: EngineContext, use_case: Callable[..., T], *args: Any) -> T:
    """The hot routes' form: the whole unit of work (key check, use case, commit) in one hop
    to the thread pool (each sync dependency would be a hop of its own)."""
    return await run_in_threadpool(in_unit_of_work, ctx, use_case, *args)


def current_client_id(
    ctx: Annotated[EngineContext, Depends(get_ctx)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    key = x_api_key
    if key is None and authorization:
        scheme, _, value = authorization.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else None
    if not key:
        raise HTTPException(
            status_code=401,
            detail="missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Its own short unit of work: staged routes (uploads) must not hold a transaction open.
    client_id = ctx.in_unit_of_work(authenticate, key)
    if client_id is None:
        raise HTTPException(
            status_code=401,
            detail="invalid or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return client_id


ClientId = Annotated[str, Depends(current_client_id)]
UoW = Annotated[UnitOfWork, Depends(get_uow, scope="function")]
Ctx = Annotated[EngineContext, Depends(get_ctx)]
