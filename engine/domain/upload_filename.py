"""Validate client-supplied filenames (pure). Filenames are shown to people, never used as keys."""

from __future__ import annotations

import unicodedata

MAX_FILENAME_BYTES = 255

# Characters that change how the text around them is shown: bidirectional embeddings,
# overrides, isolates and marks ("clip\u202egnp.exe" reads "clipexe.png"), and the line and
# paragraph separators that break a name over lines.
INVISIBLE_LAYOUT_CHARACTERS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
)


class BadFilename(ValueError):
    pass


def check_upload_filename(name: str | None) -> str:
    if name is None or not name.strip():
        raise BadFilename("every uploaded file needs a filename")
    if any(_is_surrogate(ch) and not _is_escaped_byte(ch) for ch in name):
        # E.g. a JSON "\ud800" escape: not text, and it cannot be stored or shown as UTF-8.
        raise BadFilename(f"filename {name!r} is not valid Unicode (a lone surrogate)")
    if any(_is_escaped_byte(ch) for ch in name):
        # Undecodable bytes (os.fsdecode's surrogates): such names are nearly always Latin-1,
        # which is also how the HTTP multipart parser reads them. The name is only displayed.
        name = name.encode("utf-8", "surrogateescape").decode("latin-1")
    # Check the name as it will be kept: NFC can lengthen a name (U+0958 becomes two
    # characters) as well as shorten it (a macOS NFD "e" + U+0301 becomes one).
    name = unicodedata.normalize("NFC", name)
    if "/" in name or "\\" in name or name in {".", ".."} or name.startswith(".."):
        raise BadFilename(f"filename {name!r} must be a plain name, without a path")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise BadFilename(f"filename {name!r} contains control characters")
    if any(ch in INVISIBLE_LAYOUT_CHARACTERS for ch in name):
        raise BadFilename(f"filename {name!r} contains bidirectional controls or line separators")
    if len(name.encode()) > MAX_FILENAME_BYTES:
        raise BadFilename(f"filename is longer than {MAX_FILENAME_BYTES} bytes")
    return name


def _is_surrogate(ch: str) -> bool:
    return 0xD800 <= ord(ch) <= 0xDFFF


def _is_escaped_byte(ch: str) -> bool:
    """A byte that was not UTF-8, as os.fsdecode's "surrogateescape" handler represents it."""
    return 0xDC80 <= ord(ch) <= 0xDCFF
