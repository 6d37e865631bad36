"""The staff caller: ``Authorization: Bearer kazs_...``, checked before any body is read.

A FastAPI dependency runs before the route reads its body (staff routes read theirs
themselves, engine/api/request_body.py), so a caller without a valid staff key gets its 401
whatever it sends.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from engine.api.deps import get_ctx, run_unit_of_work
from engine.staff.service import authenticate_staff


async def current_staff(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(
            401,
            "missing staff key: send 'Authorization: Bearer <staff key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    name = await run_unit_of_work(get_ctx(request), authenticate_staff, key.strip())
    if name is None:
        raise HTTPException(
            401, "invalid or revoked staff key", headers={"WWW-Authenticate": "Bearer"}
        )
    return name


StaffName = Annotated[str, Depends(current_staff)]
