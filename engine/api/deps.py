"""FastAPI dependencies: the engine context, a database session, the calling client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.orm import Session

from engine.bootstrap import EngineContext
from engine.clients.service import authenticate


def get_ctx(request: Request) -> EngineContext:
    ctx: EngineContext = request.app.state.ctx
    return ctx


def get_session(ctx: Annotated[EngineContext, Depends(get_ctx)]) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


def current_client_id(
    session: Annotated[Session, Depends(get_session)],
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
    client_id = authenticate(session, key)
    if client_id is None:
        raise HTTPException(
            status_code=401,
            detail="invalid or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return client_id


ClientId = Annotated[str, Depends(current_client_id)]
DbSession = Annotated[Session, Depends(get_session)]
Ctx = Annotated[EngineContext, Depends(get_ctx)]
