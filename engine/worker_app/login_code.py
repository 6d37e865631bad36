"""One-time login codes: made, shown and read back. Pure (no I/O).

Ten characters from 31 that are hard to confuse when read off paper or a screen (no 0/O, 1/I/L):
31**10 is about 8e14 (49 bits), and guessing is also rate-limited per client address
(docs/worker-app.md). Shown grouped, ``ABCDE-FGHJK``; typed in any case, with or without
spaces and dashes.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
GROUP = 5


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize(typed: str) -> str | None:
    """The code a person typed, in its stored form; None if it cannot be a code."""
    if len(typed) > 4 * CODE_LENGTH:  # never scan long junk
        return None
    code = "".join(ch for ch in typed.upper() if ch not in " -\t")
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def grouped(code: str) -> str:
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
