"""Object store on a local directory (the embedded default; no server needed).

Layout under ``root``: the object for key ``a/b/c`` is the file ``root/a/b/c``; its content
type sits in ``root/.meta/a/b/c.json``. Names starting with ``.`` are never keys (see
``object_keys``), so temp files (``.tmp-*``) and ``.meta`` cannot collide with objects.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from engine.storage.object_keys import InvalidObjectKey, validate_key, validate_prefix
from engine.storage.object_store import (
    DEFAULT_CONTENT_TYPE,
    HashingReader,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StoredObject,
    check_declared_length,
    require_delete_prefix,
    write_file_atomic,
)
from engine.storage.signed_urls import sign_media_url

CHUNK_SIZE = 1024 * 1024
META_DIR = ".meta"


class LocalObjectStore(ObjectStore):
    def __init__(self, root: Path, public_url: str, signing_secret: str) -> None:
        if not signing_secret:
            raise ValueError("LocalObjectStore needs a signing secret for media URLs")
        self.root = Path(root).resolve()
        self.public_url = public_url.rstrip("/")
        self._secret = signing_secret

    # -- paths ---------------------------------------------------------------------------

    def path_for(self, key: str) -> Path:
        """The file that holds ``key`` (for the media route to serve it directly)."""
        validate_key(key)
        path = (self.root / key).resolve()
        # Keys cannot contain '..', but a symlink inside root could still point outside.
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidObjectKey(f"object key {key!r} escapes the store root")
        return path

    def _meta_path(self, key: str) -> Path:
        return self.root / META_DIR / f"{key}.json"

    def ensure_ready(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    # -- writes --------------------------------------------------------------------------

    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        length: int | None = None,
        max_bytes: int | None = None,
    ) -> StoredObject:
        path = self.path_for(key)
        check_declared_length(key, length, max_bytes)
        reader = HashingReader(stream, key, length=length, max_bytes=max_bytes)

        def write(fh: BinaryIO) -> None:
            while chunk := reader.read(CHUNK_SIZE):
                fh.write(chunk)
            reader.check_length(length)

        write_file_atomic(path, write)
        self._write_meta(key, content_type)
        return StoredObject(key, reader.size, reader.sha256, content_type)

    def _write_meta(self, key: str, content_type: str) -> None:
        meta = json.dumps({"content_type": content_type}).encode()
        write_file_atomic(self._meta_path(key), lambda fh: fh.write(meta))

    # -- reads ---------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        with self.open_stream(key) as fh:
            return fh.read()

    def download_to(self, key: str, path: Path) -> Path:
        path = Path(path)
        with self.open_stream(key) as src:
            write_file_atomic(path, lambda dst: shutil.copyfileobj(src, dst, CHUNK_SIZE))
        return path

    @contextmanager
    def open_stream(self, key: str) -> Iterator[BinaryIO]:
        path = self.path_for(key)
        try:
            fh = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        with fh:
            yield fh

    def stat(self, key: str) -> ObjectInfo | None:
        path = self.path_for(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return ObjectInfo(key, st.st_size, self._content_type(key))

    def _content_type(self, key: str) -> str:
        try:
            meta = json.loads(self._meta_path(key).read_bytes())
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return DEFAULT_CONTENT_TYPE
        return str(meta.get("content_type") or DEFAULT_CONTENT_TYPE)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)  # here, not in the generator, so bad prefixes fail at the call
        return self._iter_keys(prefix)

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        start = self.root / prefix.rpartition("/")[0]
        if not start.is_dir():
            return
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            # Dot names are temp files or metadata, never objects.
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith("."):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        yield from sorted(keys)

    # -- deletes -------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        with suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            path.unlink()
        self._meta_path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        require_delete_prefix(prefix)
        keys = list(self.list_keys(prefix))
        for key in keys:
            self.delete(key)
        directory = prefix.rpartition("/")[0]
        if directory:
            self._prune_empty_dirs(self.root / directory)
            self._prune_empty_dirs(self.root / META_DIR / directory)
        return len(keys)

    def _prune_empty_dirs(self, top: Path) -> None:
        """Remove empty directories under and above ``top`` (up to root); best effort."""
        if not top.is_dir():
            return
        for dirpath, _dirnames, _filenames in os.walk(top, topdown=False):
            with suppress(OSError):
                os.rmdir(dirpath)
        for parent in top.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    # -- signed links --------------------------------------------------------------------

    def presigned_get_url(
        self, key: str, expires: timedelta, *, filename: str | None = None
    ) -> str:
        validate_key(key)
        return sign_media_url(
            self.public_url, key, "GET", self._expires_at(expires), self._secret, filename=filename
        )

    def presigned_put_url(self, key: str, expires: timedelta) -> str:
        validate_key(key)
        return sign_media_url(self.public_url, key, "PUT", self._expires_at(expires), self._secret)

    @staticmethod
    def _expires_at(expires: timedelta) -> int:
        if expires.total_seconds() <= 0:
            raise ValueError("expires must be positive")
        return int(time.time() + expires.total_seconds())
