"""Why an image was rejected: ``code`` for programs, ``reason`` (from MediaError) for the client."""

from __future__ import annotations

from engine.media.errors import MediaError

FILE_NOT_FOUND = "file_not_found"
EMPTY_FILE = "empty_file"
NOT_AN_IMAGE = "not_an_image"
UNSUPPORTED_FORMAT = "unsupported_format"
CORRUPT_IMAGE = "corrupt_image"
TOO_MANY_PIXELS = "too_many_pixels"


class ImageError(MediaError):
    """A MediaError, so the splitting service reports it like any other unusable media."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
