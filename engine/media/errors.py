"""Errors raised by media adapters, worded for the client whose file failed."""

from __future__ import annotations


class MediaError(Exception):
    """A media file cannot be used; ``reason`` is shown to the client as the job's failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
