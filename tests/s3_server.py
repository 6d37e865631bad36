"""A real S3 endpoint for tests: moto's server on 127.0.0.1, a free port, in this process.

One server is shared by the whole test session (``shared_moto_server``); each test gets its
own bucket. To use it from any test folder, import the fixtures into that folder's conftest:

    from tests.s3_server import moto_s3_server, s3_store  # noqa: F401
"""

from __future__ import annotations

import atexit
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from minio import Minio
from minio.deleteobjects import DeleteObject
from moto.server import ThreadedMotoServer

from engine.storage.s3_store import MIN_PART_SIZE, S3ObjectStore


@dataclass
class MotoS3Server:
    host: str
    port: int
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"
    _server: ThreadedMotoServer | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """``host:port``, the form ``S3ObjectStore`` and ``KAZI_S3_ENDPOINT`` take."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def settings_overrides(self, bucket: str) -> dict[str, Any]:
        """Keyword arguments for ``Settings(...)`` that point the engine at this server."""
        return {
            "store_backend": "s3",
            "s3_endpoint": self.endpoint,
            "s3_access_key": self.access_key,
            "s3_secret_key": self.secret_key,
            "s3_bucket": bucket,
            "s3_region": self.region,
            "s3_secure": False,
        }

    def make_store(self, bucket: str | None = None, **kwargs: Any) -> S3ObjectStore:
        """A ready store on a (by default fresh) bucket. Small parts keep tests quick."""
        kwargs.setdefault("part_size", MIN_PART_SIZE)
        kwargs.setdefault("retries", 0)
        store = S3ObjectStore(
            self.endpoint,
            self.access_key,
            self.secret_key,
            bucket or new_bucket_name(),
            secure=False,
            region=self.region,
            **kwargs,
        )
        store.ensure_ready()
        return store

    def minio_client(self) -> Minio:
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            region=self.region,
        )

    def remove_bucket(self, bucket: str) -> None:
        """Empty and delete a bucket (frees moto's memory between tests)."""
        client = self.minio_client()
        if not client.bucket_exists(bucket):
            return
        names = [o.object_name for o in client.list_objects(bucket, recursive=True)]
        errors = list(client.remove_objects(bucket, (DeleteObject(n) for n in names if n)))
        assert not errors, errors
        client.remove_bucket(bucket)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def new_bucket_name() -> str:
    return f"kazi-test-{uuid.uuid4().hex[:12]}"


def start_moto_server() -> MotoS3Server:
    """Start a new moto server on 127.0.0.1 (port chosen by the OS); caller stops it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return MotoS3Server(host=host, port=port, _server=server)


_shared: MotoS3Server | None = None
_shared_lock = threading.Lock()


def shared_moto_server() -> MotoS3Server:
    """The process-wide server, started on first use and stopped at exit.

    A singleton rather than only a session fixture, so several conftests importing the
    fixture still share one server.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = start_moto_server()
            atexit.register(_shared.stop)
        return _shared


@pytest.fixture(scope="session")
def moto_s3_server() -> MotoS3Server:
    return shared_moto_server()


@pytest.fixture
def s3_store(moto_s3_server: MotoS3Server) -> Iterator[S3ObjectStore]:
    """An ``S3ObjectStore`` on a fresh bucket of the shared server, removed afterwards."""
    store = moto_s3_server.make_store()
    yield store
    moto_s3_server.remove_bucket(store.bucket)
