"""JSON bodies a route reads itself, after it has checked the caller's credential.

FastAPI reads and validates a declared body parameter before any dependency runs, so a route
with one answers an unauthenticated caller's bad body with a 422 (or buffers all of it) before
its key check. Routes that check the key first read the body with ``read_json_body`` (or
``read_optional_json_body``) instead:
the same validation and the same 422 (``loc`` under ``body``), within the route's body limit
(engine/api/body_limit.py), and ``json_body_doc`` documents it as FastAPI would.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


async def read_json_body(request: Request, model: type[Model]) -> Model:
    """The body validated as ``model``; an empty body is a 422 (field required)."""
    found = await read_optional_json_body(request, model)
    if found is None:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    return found


async def read_optional_json_body(request: Request, model: type[Model]) -> Model | None:
    """The body validated as ``model``; None when it is empty."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def json_body_doc(model: type[BaseModel], *, required: bool) -> dict[str, Any]:
    """``openapi_extra`` that documents ``model`` (a flat model) as the route's JSON body."""
    schema = model.model_json_schema()
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}
    }
