"""The object store interface every storage backend implements, and its errors."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class StorageError(Exception):
    """Any failure of the object store."""


class TransientStorageError(StorageError):
    """A failure worth retrying later (network error, 5xx, throttling)."""


class ObjectNotFound(StorageError, KeyError):
    """The key does not exist. Also a KeyError so mapping-style callers can catch it."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the argument; keep a readable message.
        return f"object not found: {self.key}"


class ObjectTooLarge(StorageError):
    """An upload went past ``max_bytes``; nothing was stored."""

    def __init__(self, key: str, max_bytes: int) -> None:
        super().__init__(f"object {key} exceeds the limit of {max_bytes} bytes")
        self.key = key
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    content_type: str


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str


class HashingReader:
    """Wraps a binary stream: hashes and counts what passes through and enforces limits.

    ``length``: read at most this many bytes (a declared size); ``max_bytes``: raise
    ``ObjectTooLarge`` as soon as more than this has been read.
    """

    def __init__(
        self,
        stream: BinaryIO,
        key: str,
        *,
        length: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self._stream = stream
        self._key = key
        self._remaining = length
        self._max_bytes = max_bytes
        self._sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        if self._remaining is not None:
            size = self._remaining if size < 0 else min(size, self._remaining)
        if size == 0:
            return b""
        data = self._stream.read(size)
        if not data:
            return b""
        if not isinstance(data, bytes):
            data = bytes(data)
        self.size += len(data)
        if self._remaining is not None:
            self._remaining -= len(data)
        if self._max_bytes is not None and self.size > self._max_bytes:
            raise ObjectTooLarge(self._key, self._max_bytes)
        self._sha256.update(data)
        return data

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def check_length(self, length: int | None) -> None:
        """Raise if a declared length was not met (the stream ended early)."""
        if length is not None and self.size != length:
            raise StorageError(
                f"stream for {self._key} ended after {self.size} of {length} declared bytes"
            )


def check_declared_length(key: str, length: int | None, max_bytes: int | None) -> None:
    """Fail before reading anything when the declared size is already too big."""
    if length is not None and length < 0:
        raise ValueError("length must be >= 0 or None")
    if max_bytes is not None and length is not None and length > max_bytes:
        raise ObjectTooLarge(key, max_bytes)


class ObjectStore(ABC):
    """A flat key -> bytes store (a directory or an S3 bucket).

    Keys are validated with ``engine.storage.object_keys.validate_key``; build them with
    ``object_key(client_id, job_id, ...)``.
    """

    @abstractmethod
    def ensure_ready(self) -> None:
        """Create the bucket / directory if it is missing."""

    @abstractmethod
    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        length: int | None = None,
        max_bytes: int | None = None,
    ) -> StoredObject:
        """Store a stream without holding it all in memory; all-or-nothing.

        ``length`` is the declared size (None: read to EOF). Past ``max_bytes`` it raises
        ``ObjectTooLarge`` and leaves no new object (an existing one under the key is kept).
        """

    def put_file(
        self, key: str, path: Path | str, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> StoredObject:
        path = Path(path)
        with path.open("rb") as fh:
            return self.put_stream(key, fh, content_type=content_type, length=path.stat().st_size)

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> StoredObject:
        return self.put_stream(key, io.BytesIO(data), content_type=content_type, length=len(data))

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The whole object; raises ``ObjectNotFound``."""

    @abstractmethod
    def download_to(self, key: str, path: Path) -> Path:
        """Write the object to ``path`` atomically (parents created); returns ``path``."""

    @abstractmethod
    def open_stream(self, key: str) -> AbstractContextManager[BinaryIO]:
        """``with store.open_stream(key) as fh:`` a readable binary stream."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Size and content type, or None if absent."""

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error if it is absent."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix`` (non-empty); returns the count."""

    @abstractmethod
    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with ``prefix``, in lexicographic order."""

    @abstractmethod
    def presigned_get_url(
        self, key: str, expires: timedelta, *, filename: str | None = None
    ) -> str:
        """A URL anyone can GET until ``expires`` from now; ``filename`` sets the download name."""

    @abstractmethod
    def presigned_put_url(self, key: str, expires: timedelta) -> str:
        """A URL anyone can PUT the object's bytes to until ``expires`` from now."""


TEMP_PREFIX = ".tmp-"


def write_file_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` via a temp file in its directory + ``os.replace``.

    Readers see the old file or the complete new one, never a partial write; on any error
    the temp file is removed and ``path`` is untouched.
    """
    fd, tmp_name = _make_temp(path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; these are plain data files
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _make_temp(directory: Path) -> tuple[int, str]:
    # A concurrent cleanup may remove an empty directory between mkdir and mkstemp: retry.
    for attempt in range(3):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX)
        except (FileExistsError, NotADirectoryError):
            raise StorageError(f"cannot create a file in {directory}: a parent is a file") from None
        except FileNotFoundError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def require_delete_prefix(prefix: str) -> str:
    # An empty prefix would wipe the whole store; make that impossible by accident.
    if not prefix:
        raise ValueError("delete_prefix needs a non-empty prefix")
    return prefix
