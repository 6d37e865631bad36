"""The one error type use cases raise; entrypoints map it to an HTTP error body or a CLI message.

Each subclass sets, at class level, the HTTP ``status`` it answers with and a short machine
``code`` clients can branch on (``job_not_found``); the message is for people. ``status`` and
``code`` are part of the API: change them as you would change a route.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


class KaziError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    # Older name of ``status``, still read by entrypoints; always equal to it.
    status_code: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass may set either name (the older ones set ``status_code``); keep them equal.
        if "status_code" in cls.__dict__ and "status" not in cls.__dict__:
            cls.status = cls.status_code
        cls.status_code = cls.status
        # A subclass without its own code gets its class name's: LeaseNotFound -> lease_not_found.
        if "code" not in cls.__dict__:
            cls.code = _WORD_START.sub("_", cls.__name__).lower()
