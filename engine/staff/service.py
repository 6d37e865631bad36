"""Programme staff keys: ``kazs_<prefix>_<secret>``, shown once, a SHA-256 hash kept.

Keys are 32 random bytes (like client and worker keys), so a fast hash is enough; the prefix
finds the row. A revoked key stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from engine.db.payout_models import StaffKeyRow
from engine.errors import KaziError
from engine.staff.repository import StaffRepository

KEY_SCHEME = "kazs"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


class StaffError(KaziError):
    status = 400
    code = "staff_refused"


class StaffExists(StaffError):
    status = 409
    code = "staff_exists"


class StaffNotFound(StaffError):
    status = 404
    code = "staff_not_found"


class HasStaff(Protocol):
    staff: StaffRepository


@dataclass(frozen=True)
class IssuedStaffKey:
    id: str
    name: str
    api_key: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_staff(uow: HasStaff, name: str) -> IssuedStaffKey:
    if not NAME_PATTERN.match(name):
        raise StaffError(
            "name must be 2-63 characters of lower-case letters, digits, '.', '_' or '-'"
        )
    if uow.staff.by_name(name) is not None:
        raise StaffExists(f"a staff member called {name!r} exists already")
    prefix = secrets.token_hex(6)
    key = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    row = StaffKeyRow(id=str(uuid.uuid4()), name=name, key_prefix=prefix, key_hash=_hash(key))
    uow.staff.add(row)
    return IssuedStaffKey(row.id, name, key)


def revoke_staff(uow: HasStaff, name: str) -> None:
    row = uow.staff.by_name(name)
    if row is None:
        raise StaffNotFound(f"no staff member {name!r}")
    row.revoked_at = row.revoked_at or datetime.now(UTC)


def authenticate_staff(uow: HasStaff, key: str) -> str | None:
    """The staff member's name for a live key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or not parts[1] or not parts[2]:
        return None
    row = uow.staff.by_prefix(parts[1])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(_hash(key), row.key_hash):
        return None
    return row.name
