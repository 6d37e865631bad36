"""ObjectStore behaviour, run against both backends (see ``conftest.backend``)."""

from __future__ import annotations

import hashlib
import io
import random
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from engine.storage.object_keys import InvalidObjectKey, job_prefix, object_key
from engine.storage.object_store import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    ObjectTooLarge,
    StorageError,
)
from engine.storage.signed_urls import content_disposition

if TYPE_CHECKING:
    from tests.integration.storage.conftest import Backend

MIB = 1024 * 1024


class GeneratedStream:
    """A non-seekable stream of pseudo-random bytes, produced on demand (never held whole).

    Returns at most ``max_read`` bytes per call like a socket would, and can run a callback
    once the reader has consumed ``observe_at`` bytes.
    """

    def __init__(self, size: int, *, seed: int = 7, max_read: int = MIB) -> None:
        self.size = size
        self.position = 0
        self.max_read = max_read
        self.largest_request = 0
        self.sha256 = hashlib.sha256()
        self._random = random.Random(seed)
        self.observe_at: int | None = None
        self.observed: int | None = None
        self.observer = lambda: 0

    def read(self, size: int = -1) -> bytes:
        self.largest_request = max(self.largest_request, size)
        if (
            self.observe_at is not None
            and self.observed is None
            and self.position >= self.observe_at
        ):
            self.observed = self.observer()
        remaining = self.size - self.position
        n = remaining if size < 0 else min(size, remaining)
        n = min(n, self.max_read)
        data = self._random.randbytes(n)
        self.position += n
        self.sha256.update(data)
        return data


def key(*parts: str) -> str:
    return object_key("client-1", "job-1", *parts)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- round trips ---------------------------------------------------------------------------


def test_put_bytes_round_trip(store: ObjectStore) -> None:
    data = b"hello, kazi\x00\xff"
    stored = store.put_bytes(key("a.bin"), data, content_type="text/plain")
    assert stored.key == key("a.bin")
    assert stored.size == len(data)
    assert stored.sha256 == sha256(data)
    assert stored.content_type == "text/plain"
    assert store.get_bytes(key("a.bin")) == data
    assert store.stat(key("a.bin")) == ObjectInfo(key("a.bin"), len(data), "text/plain")


def test_empty_object(store: ObjectStore) -> None:
    stored = store.put_bytes(key("empty"), b"")
    assert (stored.size, stored.sha256) == (0, sha256(b""))
    assert store.get_bytes(key("empty")) == b""
    assert store.exists(key("empty"))


def test_default_content_type(store: ObjectStore) -> None:
    store.put_bytes(key("x"), b"1")
    info = store.stat(key("x"))
    assert info is not None and info.content_type == "application/octet-stream"


def test_put_file_and_download_to(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    data = random.Random(1).randbytes(300_000)
    source.write_bytes(data)
    stored = store.put_file(key("in.wav"), source, content_type="audio/wav")
    assert (stored.size, stored.sha256) == (len(data), sha256(data))

    target = tmp_path / "out" / "nested" / "copy.wav"
    assert store.download_to(key("in.wav"), target) == target
    assert target.read_bytes() == data
    assert not [p for p in target.parent.iterdir() if p.name != "copy.wav"]  # no temp left


def test_download_missing_leaves_no_file(store: ObjectStore, tmp_path: Path) -> None:
    target = tmp_path / "missing.bin"
    with pytest.raises(ObjectNotFound):
        store.download_to(key("missing"), target)
    assert not target.exists()


def test_put_stream_known_length_and_open_stream(store: ObjectStore) -> None:
    data = random.Random(2).randbytes(2 * MIB + 123)
    stored = store.put_stream(key("s"), io.BytesIO(data), length=len(data))
    assert (stored.size, stored.sha256) == (len(data), sha256(data))
    with store.open_stream(key("s")) as fh:
        first = fh.read(10)
        rest = fh.read()
    assert first + rest == data


def test_overwrite_replaces_object(store: ObjectStore) -> None:
    store.put_bytes(key("o"), b"old", content_type="text/plain")
    store.put_bytes(key("o"), b"newer", content_type="application/json")
    assert store.get_bytes(key("o")) == b"newer"
    assert store.stat(key("o")) == ObjectInfo(key("o"), 5, "application/json")


def test_declared_length_reads_only_that_much(store: ObjectStore) -> None:
    stored = store.put_stream(key("l"), io.BytesIO(b"0123456789"), length=4)
    assert stored.size == 4
    assert store.get_bytes(key("l")) == b"0123"


def test_stream_shorter_than_declared_length_fails(store: ObjectStore) -> None:
    with pytest.raises(StorageError):
        store.put_stream(key("short"), io.BytesIO(b"abc"), length=10)
    assert store.stat(key("short")) is None


def test_unknown_length_streaming_multipart(backend: Backend) -> None:
    """12 MiB of unknown length with 5 MiB parts: data is persisted while still streaming."""
    store = backend.store
    size = 12 * MIB
    stream = GeneratedStream(size)
    stream.observe_at = 10 * MIB
    stream.observer = backend.pending_upload_bytes

    stored = store.put_stream(key("big.bin"), stream, content_type="audio/wav")  # type: ignore[arg-type]

    assert stream.position == size
    assert stored.size == size
    assert stored.sha256 == stream.sha256.hexdigest()
    # Before the stream ended, at least one 5 MiB part (or temp-file data) was already stored.
    assert stream.observed is not None and stream.observed >= 5 * MIB
    assert stream.largest_request <= 5 * MIB + 1  # never asked for the whole payload
    assert backend.pending_upload_bytes() == 0

    info = store.stat(key("big.bin"))
    assert info == ObjectInfo(key("big.bin"), size, "audio/wav")
    digest = hashlib.sha256()
    with store.open_stream(key("big.bin")) as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
    assert digest.hexdigest() == stored.sha256


# -- max_bytes -------------------------------------------------------------------------------


def test_max_bytes_exceeded_mid_multipart_leaves_nothing(backend: Backend) -> None:
    store = backend.store
    stream = GeneratedStream(12 * MIB)
    with pytest.raises(ObjectTooLarge) as excinfo:
        store.put_stream(key("too-big"), stream, max_bytes=7 * MIB)  # type: ignore[arg-type]
    assert excinfo.value.max_bytes == 7 * MIB
    assert stream.position < 12 * MIB  # stopped early, did not drain the stream
    assert store.stat(key("too-big")) is None
    assert list(store.list_keys(job_prefix("client-1", "job-1"))) == []
    assert backend.pending_upload_bytes() == 0  # no temp file / multipart upload left


def test_max_bytes_exceeded_small_unknown_length(backend: Backend) -> None:
    store = backend.store
    with pytest.raises(ObjectTooLarge):
        store.put_stream(key("small"), io.BytesIO(b"x" * 11), max_bytes=10)
    assert not store.exists(key("small"))
    assert backend.pending_upload_bytes() == 0


def test_declared_length_over_max_bytes_fails_before_reading(store: ObjectStore) -> None:
    stream = io.BytesIO(b"x" * 100)
    with pytest.raises(ObjectTooLarge):
        store.put_stream(key("declared"), stream, length=100, max_bytes=99)
    assert stream.tell() == 0
    assert not store.exists(key("declared"))


def test_max_bytes_exactly_met_is_allowed(store: ObjectStore) -> None:
    stored = store.put_stream(key("exact"), io.BytesIO(b"x" * 10), max_bytes=10)
    assert stored.size == 10


def test_failed_put_keeps_previous_object(store: ObjectStore) -> None:
    store.put_bytes(key("keep"), b"previous")
    with pytest.raises(ObjectTooLarge):
        store.put_stream(key("keep"), io.BytesIO(b"y" * 100), max_bytes=50)
    assert store.get_bytes(key("keep")) == b"previous"


# -- stat / exists / delete / list ---------------------------------------------------------


def test_missing_key(store: ObjectStore) -> None:
    missing = key("nope")
    assert store.stat(missing) is None
    assert not store.exists(missing)
    with pytest.raises(ObjectNotFound) as excinfo:
        store.get_bytes(missing)
    assert isinstance(excinfo.value, KeyError)
    assert excinfo.value.key == missing
    with pytest.raises(ObjectNotFound), store.open_stream(missing):
        pass


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put_bytes(key("d"), b"1")
    store.delete(key("d"))
    assert not store.exists(key("d"))
    store.delete(key("d"))
    store.delete(key("never-existed"))


def test_list_keys_and_delete_prefix(store: ObjectStore) -> None:
    job1 = job_prefix("c1", "j1")
    keys = [
        object_key("c1", "j1", "in", "a.wav"),
        object_key("c1", "j1", "in", "b.wav"),
        object_key("c1", "j1", "segments", "0001.wav"),
        object_key("c1", "j1", "in-extra"),
    ]
    other = object_key("c1", "j2", "in", "a.wav")
    for k in [*keys, other]:
        store.put_bytes(k, k.encode())

    assert list(store.list_keys(job1)) == sorted(keys)
    assert list(store.list_keys(job1 + "in/")) == sorted(keys[:2])
    assert list(store.list_keys(job1 + "in")) == sorted([keys[0], keys[1], keys[3]])
    assert list(store.list_keys(job1 + "zzz/")) == []
    assert list(store.list_keys("clients/unknown/")) == []
    assert set(store.list_keys("")) == {*keys, other}

    assert store.delete_prefix(job1 + "in/") == 2
    assert list(store.list_keys(job1)) == sorted(keys[2:])
    assert store.delete_prefix(job1) == 2
    assert list(store.list_keys(job1)) == []
    assert store.delete_prefix(job1) == 0
    assert store.get_bytes(other) == other.encode()  # other jobs untouched


def test_delete_prefix_refuses_empty_prefix(store: ObjectStore) -> None:
    with pytest.raises(ValueError):
        store.delete_prefix("")


@pytest.mark.parametrize(
    "bad_key",
    ["", "../x", "a/../b", "a//b", "/abs", "a/", "a\\b", "a\x00b", "caf\u00e9", ".hidden", "a b"],
)
def test_store_rejects_unsafe_keys(store: ObjectStore, bad_key: str) -> None:
    with pytest.raises(InvalidObjectKey):
        store.put_bytes(bad_key, b"x")
    with pytest.raises(InvalidObjectKey):
        store.stat(bad_key)
    with pytest.raises(InvalidObjectKey):
        store.delete(bad_key)


@pytest.mark.parametrize("bad_prefix", ["../", "a/../", "/a", "a//", "\x00"])
def test_list_rejects_unsafe_prefixes(store: ObjectStore, bad_prefix: str) -> None:
    with pytest.raises(InvalidObjectKey):
        store.list_keys(bad_prefix)  # raises at the call, before iterating
    with pytest.raises(InvalidObjectKey):
        store.delete_prefix(bad_prefix)


# -- presigned URLs over real HTTP -----------------------------------------------------------


def test_presigned_get_over_http(store: ObjectStore) -> None:
    store.put_bytes(key("get.txt"), b"signed content", content_type="text/plain")
    url = store.presigned_get_url(key("get.txt"), timedelta(minutes=5))
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b"signed content"


def test_presigned_get_sets_download_filename(store: ObjectStore) -> None:
    store.put_bytes(key("f.txt"), b"named")
    url = store.presigned_get_url(key("f.txt"), timedelta(minutes=5), filename="Réunion 1.txt")
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == content_disposition("Réunion 1.txt")


def test_presigned_put_over_http(store: ObjectStore) -> None:
    url = store.presigned_put_url(key("put.bin"), timedelta(minutes=5))
    data = random.Random(3).randbytes(70_000)
    response = httpx.put(url, content=data)
    assert response.status_code == 200, response.text
    assert store.get_bytes(key("put.bin")) == data
