"""Validate client-supplied filenames (pure). Filenames are shown to people, never used as keys."""

from __future__ import annotations

import unicodedata

MAX_FILENAME_BYTES = 255


class BadFilename(ValueError):
    pass


def check_upload_filename(name: str | None) -> str:
    if name is None or not name.strip():
        raise BadFilename("every uploaded file needs a filename")
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in name):
        # Undecodable bytes (os.fsdecode's surrogates): such names are nearly always Latin-1,
        # which is also how the HTTP multipart parser reads them. The name is only displayed.
        name = name.encode("utf-8", "surrogateescape").decode("latin-1")
    if "/" in name or "\\" in name or name in {".", ".."} or name.startswith(".."):
        raise BadFilename(f"filename {name!r} must be a plain name, without a path")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise BadFilename(f"filename {name!r} contains control characters")
    if len(name.encode()) > MAX_FILENAME_BYTES:
        raise BadFilename(f"filename is longer than {MAX_FILENAME_BYTES} bytes")
    return unicodedata.normalize("NFC", name)
