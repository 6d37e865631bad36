"""Local-directory specifics: root confinement, atomic writes, signed media links."""

from __future__ import annotations

import io
import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from engine.storage.local_store import LocalObjectStore
from engine.storage.object_keys import InvalidObjectKey, object_key
from engine.storage.object_store import StorageError
from engine.storage.signed_urls import verify_media_signature
from tests.integration.storage.conftest import SIGNING_SECRET

KEY = object_key("c1", "j1", "in", "a.bin")


def test_files_live_under_root_with_key_path(local_store: LocalObjectStore) -> None:
    local_store.put_bytes(KEY, b"data")
    path = local_store.path_for(KEY)
    assert path == local_store.root / "clients/c1/jobs/j1/in/a.bin"
    assert path.read_bytes() == b"data"


def test_cannot_escape_root_through_traversal(
    local_store: LocalObjectStore, tmp_path: Path
) -> None:
    for bad in ["../outside", "clients/../../outside", "/etc/passwd"]:
        with pytest.raises(InvalidObjectKey):
            local_store.put_bytes(bad, b"x")
    assert not (tmp_path / "outside").exists()


def test_cannot_escape_root_through_symlink(local_store: LocalObjectStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (local_store.root / "clients").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidObjectKey, match="escapes"):
        local_store.put_bytes(KEY, b"x")
    with pytest.raises(InvalidObjectKey):
        local_store.get_bytes(KEY)
    assert list(outside.iterdir()) == []


def test_failed_write_leaves_no_temp_file(local_store: LocalObjectStore) -> None:
    class Broken(io.RawIOBase):
        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        local_store.put_stream(KEY, Broken())  # type: ignore[arg-type]
    assert not local_store.exists(KEY)
    assert [p for p in local_store.root.rglob("*") if p.is_file()] == []


def test_reader_never_sees_partial_object(local_store: LocalObjectStore) -> None:
    """While a large put streams in, readers see the old object, then the whole new one."""
    old, new = b"o" * 1000, b"n" * (8 * 1024 * 1024)
    local_store.put_bytes(KEY, old)
    seen: set[int] = set()
    done = threading.Event()

    def read_loop() -> None:
        while not done.is_set():
            seen.add(len(local_store.get_bytes(KEY)))

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        local_store.put_stream(KEY, io.BytesIO(new))
    finally:
        done.set()
        reader.join()
    assert seen <= {len(old), len(new)}
    assert local_store.get_bytes(KEY) == new


def test_delete_prefix_prunes_empty_directories(local_store: LocalObjectStore) -> None:
    local_store.put_bytes(KEY, b"x")
    local_store.put_bytes(object_key("c1", "j1", "out", "b"), b"y")
    assert local_store.delete_prefix("clients/c1/jobs/j1/") == 2
    assert not (local_store.root / "clients").exists()
    assert [p for p in local_store.root.rglob("*") if p.is_file()] == []


def test_parent_that_is_an_object_is_a_storage_error(local_store: LocalObjectStore) -> None:
    local_store.put_bytes("a", b"file")
    with pytest.raises(StorageError):
        local_store.put_bytes("a/b", b"x")


def test_objects_are_readable_files(local_store: LocalObjectStore) -> None:
    local_store.put_bytes(KEY, b"x")
    assert os.stat(local_store.path_for(KEY)).st_mode & 0o777 == 0o644


# -- signed media links ------------------------------------------------------------------


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_presigned_urls_point_at_media_route(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, "https://kazi.example.org/", SIGNING_SECRET)
    before = time.time()
    url = store.presigned_get_url(KEY, timedelta(minutes=10))
    assert url.startswith(f"https://kazi.example.org/v1/media/{KEY}?")
    query = _query(url)
    assert before + 600 - 1 <= int(query["expires"]) <= time.time() + 600
    assert verify_media_signature(
        KEY, "GET", int(query["expires"]), query["signature"], SIGNING_SECRET, time.time()
    )
    # The GET signature is not a PUT signature, and vice versa.
    assert not verify_media_signature(
        KEY, "PUT", int(query["expires"]), query["signature"], SIGNING_SECRET, time.time()
    )
    put = _query(store.presigned_put_url(KEY, timedelta(minutes=10)))
    assert put["signature"] != query["signature"]
    assert verify_media_signature(
        KEY, "PUT", int(put["expires"]), put["signature"], SIGNING_SECRET, time.time()
    )


def test_presigned_url_is_bound_to_its_key(local_store: LocalObjectStore) -> None:
    local_store.put_bytes(object_key("c1", "j1", "secret.txt"), b"secret")
    local_store.put_bytes(object_key("c1", "j1", "public.txt"), b"public")
    url = local_store.presigned_get_url(object_key("c1", "j1", "public.txt"), timedelta(minutes=5))
    assert httpx.get(url).content == b"public"
    parts = urlsplit(url)
    tampered = parts._replace(path=parts.path.replace("public.txt", "secret.txt")).geturl()
    assert httpx.get(tampered).status_code == 403


def test_presigned_get_url_cannot_be_used_to_put(local_store: LocalObjectStore) -> None:
    local_store.put_bytes(KEY, b"read only")
    url = local_store.presigned_get_url(KEY, timedelta(minutes=5))
    assert httpx.put(url, content=b"overwritten").status_code == 403
    assert local_store.get_bytes(KEY) == b"read only"


def test_non_positive_expiry_is_rejected(local_store: LocalObjectStore) -> None:
    with pytest.raises(ValueError):
        local_store.presigned_get_url(KEY, timedelta(0))


def test_empty_signing_secret_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalObjectStore(tmp_path, "http://x", "")
