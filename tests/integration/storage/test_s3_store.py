"""S3 specifics: error mapping to transient/permanent errors, endpoint validation."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from engine.storage.object_store import ObjectNotFound, StorageError, TransientStorageError
from engine.storage.s3_store import S3ObjectStore
from tests.s3_server import MotoS3Server

KEY = "clients/c1/jobs/j1/a.bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _store(endpoint: str, bucket: str = "kazi") -> S3ObjectStore:
    return S3ObjectStore(
        endpoint, "k", "s", bucket, secure=False, region="us-east-1", retries=0, connect_timeout=2
    )


def test_connection_refused_is_transient() -> None:
    store = _store(f"127.0.0.1:{_free_port()}")
    with pytest.raises(TransientStorageError):
        store.put_bytes(KEY, b"x")
    with pytest.raises(TransientStorageError):
        store.stat(KEY)
    with pytest.raises(TransientStorageError):
        list(store.list_keys("clients/"))


class _Unavailable(BaseHTTPRequestHandler):
    """A real endpoint that answers every request with 503, like an overloaded gateway."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self) -> None:
        body = b"<html>503 Service Unavailable</html>"
        self.send_response(503)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _reply


@pytest.fixture
def unavailable_endpoint() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_server_5xx_is_transient(unavailable_endpoint: str) -> None:
    store = _store(unavailable_endpoint)
    with pytest.raises(TransientStorageError):
        store.get_bytes(KEY)
    with pytest.raises(TransientStorageError):
        store.put_bytes(KEY, b"x")


def test_missing_bucket_is_a_clear_permanent_error(moto_s3_server: MotoS3Server) -> None:
    store = S3ObjectStore(
        moto_s3_server.endpoint,
        moto_s3_server.access_key,
        moto_s3_server.secret_key,
        "kazi-never-created",
        secure=False,
        region=moto_s3_server.region,
        retries=0,
    )
    with pytest.raises(StorageError, match="ensure_ready") as excinfo:
        store.put_bytes(KEY, b"x")
    assert not isinstance(excinfo.value, TransientStorageError | ObjectNotFound)


def test_ensure_ready_is_idempotent(s3_store: S3ObjectStore) -> None:
    s3_store.ensure_ready()
    s3_store.ensure_ready()


def test_presigned_put_sets_nothing_but_the_bytes(s3_store: S3ObjectStore) -> None:
    url = s3_store.presigned_put_url(KEY, timedelta(minutes=1))
    assert httpx.put(url, content=b"abc").status_code == 200
    info = s3_store.stat(KEY)
    assert info is not None and info.size == 3


def test_endpoint_with_scheme_is_rejected() -> None:
    with pytest.raises(ValueError, match="without a scheme"):
        S3ObjectStore("http://minio:9000", "k", "s", "b", secure=False, region="us-east-1")


def test_part_size_below_s3_minimum_is_rejected() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3ObjectStore("minio:9000", "k", "s", "b", secure=False, region="r", part_size=1024)


def test_part_size_grows_for_large_max_bytes(s3_store: S3ObjectStore) -> None:
    assert s3_store._part_size_for(None) == s3_store.part_size
    assert s3_store._part_size_for(1024**3) == s3_store.part_size
    # 100 GiB in at most 10,000 parts needs parts of at least ~10.24 MiB.
    assert s3_store._part_size_for(100 * 1024**3) * 10_000 >= 100 * 1024**3
