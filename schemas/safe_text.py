"""What strings a client may send: the rules every schema uses for ids, names and free text.

PostgreSQL cannot store a NUL in text or JSON (psycopg raises DataError, a 500), nor a lone
surrogate (not UTF-8); control characters in an id or a name only ever mislead whoever reads
it. So ids and names (``IdText``) hold no control character at all, and free text
(``FreeText``: transcripts, which may hold newlines and tabs) and client JSON objects
(``JsonObject``: every key and string inside) hold no NUL. Pydantic refuses a lone surrogate in
a ``str`` field itself; ``refuse_nul_in_json`` also refuses them in JSON parsed elsewhere (the
Label Studio webhook).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

# C0 controls (NUL included), DEL, C1 controls, and lone surrogates.
_CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NUL_OR_SURROGATE = re.compile("[\x00\ud800-\udfff]")


def refuse_control_characters(value: str) -> str:
    if _CONTROL_OR_SURROGATE.search(value):
        raise ValueError("must not contain control characters")
    return value


def refuse_nul(value: str) -> str:
    if _NUL_OR_SURROGATE.search(value):
        raise ValueError("must not contain NUL characters or lone surrogates")
    return value


def refuse_nul_in_json(value: Any) -> Any:
    """``value`` when no string in it (keys included) holds a NUL or a lone surrogate. Walked
    with a stack, not recursion: parsed JSON may nest as deep as its parser allowed."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            refuse_nul(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return value


# Ids the engine hands out are 36 characters (UUIDs); clients' own ids are theirs to choose.
MAX_ID_CHARS = 100

IdText = Annotated[str, AfterValidator(refuse_control_characters)]
# The length is checked first (a constraint after a validator reads "items after validation").
ShortId = Annotated[
    str, StringConstraints(max_length=MAX_ID_CHARS), AfterValidator(refuse_control_characters)
]
FreeText = Annotated[str, AfterValidator(refuse_nul)]
JsonObject = Annotated[dict[str, Any], AfterValidator(refuse_nul_in_json)]
