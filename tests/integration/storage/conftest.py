"""Fixtures: every store behaviour runs against both backends.

``backend`` is parametrized over ``local`` (a temp directory, with a small HTTP server playing
the engine's media route) and ``s3`` (moto's S3 server on loopback, see ``tests/s3_server``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO, cast
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest

from engine.storage.local_store import LocalObjectStore
from engine.storage.object_store import (
    TEMP_PREFIX,
    ObjectNotFound,
    ObjectStore,
    StorageError,
)
from engine.storage.s3_store import S3ObjectStore
from engine.storage.signed_urls import content_disposition, verify_media_signature
from tests.s3_server import MotoS3Server, moto_s3_server, s3_store  # noqa: F401

SIGNING_SECRET = "test-signing-secret"


@dataclass
class Backend:
    name: str
    store: ObjectStore
    # Bytes already persisted for uploads still in progress (temp files / multipart parts).
    pending_upload_bytes: Callable[[], int]


class _MediaRouteServer(ThreadingHTTPServer):
    """What the engine's ``/v1/media/{key}`` route does, over real HTTP."""

    store: LocalObjectStore | None = None


class _MediaRouteHandler(BaseHTTPRequestHandler):
    server: _MediaRouteServer

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _authorised_key(self, method: str) -> tuple[str, dict[str, list[str]]] | None:
        url = urlsplit(self.path)
        key = unquote(url.path.removeprefix("/v1/media/"))
        query = parse_qs(url.query)
        try:
            expires = int(query["expires"][0])
            signature = query["signature"][0]
        except (KeyError, ValueError):
            self.send_error(403)
            return None
        if not verify_media_signature(key, method, expires, signature, SIGNING_SECRET, time.time()):
            self.send_error(403)
            return None
        return key, query

    def do_GET(self) -> None:
        store = self.server.store
        authorised = self._authorised_key("GET")
        if authorised is None or store is None:
            return
        key, query = authorised
        try:
            data = store.get_bytes(key)
            info = store.stat(key)
        except ObjectNotFound:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", info.content_type if info else "")
        self.send_header("Content-Length", str(len(data)))
        if "filename" in query:
            self.send_header("Content-Disposition", content_disposition(query["filename"][0]))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        store = self.server.store
        authorised = self._authorised_key("PUT")
        if authorised is None or store is None:
            return
        key, _ = authorised
        length = int(self.headers.get("Content-Length", "0"))
        content_type = self.headers.get("Content-Type") or "application/octet-stream"
        try:
            store.put_stream(
                key, cast(BinaryIO, self.rfile), content_type=content_type, length=length
            )
        except StorageError:
            self.send_error(400)
            return
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="session")
def media_route_server() -> Iterator[_MediaRouteServer]:
    server = _MediaRouteServer(("127.0.0.1", 0), _MediaRouteHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()


@pytest.fixture
def local_store(
    tmp_path: Path, media_route_server: _MediaRouteServer
) -> Iterator[LocalObjectStore]:
    host, port = media_route_server.server_address[:2]
    store = LocalObjectStore(tmp_path / "objects", f"http://{host!s}:{port}", SIGNING_SECRET)
    store.ensure_ready()
    media_route_server.store = store
    yield store
    media_route_server.store = None


def _local_pending(store: LocalObjectStore) -> int:
    return sum(p.stat().st_size for p in store.root.rglob(f"{TEMP_PREFIX}*"))


def _s3_pending(server: MotoS3Server, store: S3ObjectStore) -> int:
    """Bytes in uploaded parts of unfinished multipart uploads, plus one per such upload
    (so an upload left open with no parts still counts as left behind)."""
    client = boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
    )
    total = 0
    for upload in client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []):
        parts = client.list_parts(
            Bucket=store.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
        total += 1 + sum(part["Size"] for part in parts.get("Parts", []))
    return total


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "local":
        local: LocalObjectStore = request.getfixturevalue("local_store")
        return Backend("local", local, lambda: _local_pending(local))
    # Looked up lazily so local-only runs never start moto.
    server: MotoS3Server = request.getfixturevalue("moto_s3_server")
    s3: S3ObjectStore = request.getfixturevalue("s3_store")

    return Backend("s3", s3, lambda: _s3_pending(server, s3))


@pytest.fixture
def store(backend: Backend) -> ObjectStore:
    return backend.store
