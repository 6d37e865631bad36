"""Object keys: every object lives under ``clients/{client_id}/jobs/{job_id}/``.

Keys are built only from ids and engine-generated names, never from user filenames, so the
rules are strict: each part is a non-empty run of ASCII letters, digits, ``.``, ``_`` and ``-``
that does not start with ``.`` (which rules out ``..`` and hidden names the local store
reserves for its temp files and metadata).
"""

from __future__ import annotations

import re
from uuid import UUID

MAX_PART_LENGTH = 200
MAX_KEY_LENGTH = 1024

_SAFE_PART = re.compile(r"[A-Za-z0-9._-]+")

KeyId = str | int | UUID


class InvalidObjectKey(ValueError):
    """A key, key part or prefix that the engine refuses to store."""


def validate_key_part(part: str) -> str:
    """Return ``part`` unchanged if it is a safe single key segment, else raise."""
    if not isinstance(part, str):
        raise InvalidObjectKey(f"key part must be a string, got {type(part).__name__}")
    if part == "":
        raise InvalidObjectKey("key part must not be empty")
    if "/" in part or "\\" in part:
        raise InvalidObjectKey(f"key part {part!r} must not contain '/' or '\\'")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in part):
        raise InvalidObjectKey(f"key part {part!r} must not contain NUL or control characters")
    if not part.isascii():
        raise InvalidObjectKey(f"key part {part!r} must be ASCII")
    if part.startswith("."):
        raise InvalidObjectKey(f"key part {part!r} must not start with '.' (no '..' or dot names)")
    if not _SAFE_PART.fullmatch(part):
        raise InvalidObjectKey(
            f"key part {part!r} may only contain ASCII letters, digits, '.', '_' and '-'"
        )
    if len(part) > MAX_PART_LENGTH:
        raise InvalidObjectKey(f"key part is longer than {MAX_PART_LENGTH} characters")
    return part


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if every ``/``-separated segment is a safe part, else raise."""
    if not isinstance(key, str) or key == "":
        raise InvalidObjectKey("object key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidObjectKey(f"object key is longer than {MAX_KEY_LENGTH} characters")
    for part in key.split("/"):
        validate_key_part(part)
    return key


def validate_prefix(prefix: str) -> str:
    """Validate a listing prefix: ``""``, a key prefix ending in ``/``, or a partial last part."""
    if not isinstance(prefix, str):
        raise InvalidObjectKey("prefix must be a string")
    if prefix == "":
        return prefix
    if len(prefix) > MAX_KEY_LENGTH:
        raise InvalidObjectKey(f"prefix is longer than {MAX_KEY_LENGTH} characters")
    *parents, last = prefix.split("/")
    for part in parents:
        validate_key_part(part)
    if last:
        validate_key_part(last)
    return prefix


def _id_part(value: KeyId, what: str) -> str:
    # bool is an int; a True/False id is always a bug upstream.
    if isinstance(value, bool) or not isinstance(value, str | int | UUID):
        raise InvalidObjectKey(f"{what} must be a str, int or UUID, got {type(value).__name__}")
    try:
        return validate_key_part(str(value))
    except InvalidObjectKey as exc:
        raise InvalidObjectKey(f"invalid {what}: {exc}") from None


def job_prefix(client_id: KeyId, job_id: KeyId) -> str:
    """``clients/{client_id}/jobs/{job_id}/``: the prefix of everything a job stores."""
    client = _id_part(client_id, "client_id")
    job = _id_part(job_id, "job_id")
    return f"clients/{client}/jobs/{job}/"


def object_key(client_id: KeyId, job_id: KeyId, *parts: str) -> str:
    """A key under the job's prefix, e.g. ``object_key(c, j, "segments", "0001.wav")``."""
    if not parts:
        raise InvalidObjectKey("object_key needs at least one part after the job prefix")
    key = job_prefix(client_id, job_id) + "/".join(validate_key_part(p) for p in parts)
    return validate_key(key)


def upload_key(client_id: KeyId, upload_id: KeyId) -> str:
    """Where a client's own presigned upload lands before a job references it."""
    return validate_key(
        f"clients/{validate_key_part(str(client_id))}/uploads/{validate_key_part(str(upload_id))}"
    )


def client_prefix(client_id: KeyId) -> str:
    return f"clients/{validate_key_part(str(client_id))}/"
