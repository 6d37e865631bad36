"""Object store on MinIO or any S3 endpoint, via the ``minio`` SDK."""

from __future__ import annotations

import io
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, NoReturn, cast

import certifi
import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from urllib3.exceptions import MaxRetryError, SSLError

from engine.storage.object_keys import validate_key, validate_prefix
from engine.storage.object_store import (
    DEFAULT_CONTENT_TYPE,
    HashingReader,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StoredObject,
    TransientStorageError,
    check_declared_length,
    require_delete_prefix,
    write_file_atomic,
)
from engine.storage.signed_urls import content_disposition

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PARTS = 10_000
CHUNK_SIZE = MIB

_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchObject"}
_TRANSIENT_CODES = {
    "InternalError",
    "OperationAborted",
    "RequestTimeout",
    "ServiceUnavailable",
    "SlowDown",
    "XMinioServerNotInitialized",
}


class S3ObjectStore(ObjectStore):
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool,
        region: str,
        part_size: int = 8 * MIB,
        retries: int = 3,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
    ) -> None:
        """``endpoint`` is ``host:port`` without scheme (``secure`` picks https).

        ``part_size`` bounds memory for unknown-length uploads (about two parts held at
        once); ``retries`` are urllib3 retries on connection errors and 5xx.
        """
        if "://" in endpoint:
            raise ValueError(
                f"S3 endpoint {endpoint!r} must be host:port without a scheme; "
                "use secure=True (KAZI_S3_SECURE) for https"
            )
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.region = region
        self.part_size = part_size
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=retries, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        # Passing the region avoids a GetBucketLocation round trip (and makes presigning
        # pure computation).
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )

    # -- errors --------------------------------------------------------------------------

    @contextmanager
    def _translate(self, key: str) -> Iterator[None]:
        """Map SDK / urllib3 errors to ``ObjectNotFound`` / ``Transient`` / ``StorageError``."""
        try:
            yield
        except S3Error as exc:
            _raise_s3_error(exc, key, self.bucket)
        except ServerError as exc:
            cls = TransientStorageError if exc.status_code >= 500 else StorageError
            raise cls(f"S3 server error on {key}: {exc}") from exc
        except InvalidResponseError as exc:
            # Usually a proxy/load balancer page (502/503 HTML) in front of the store.
            status = int(getattr(exc, "_code", 0) or 0)
            cls = TransientStorageError if status >= 500 or status == 429 else StorageError
            raise cls(f"unexpected S3 response on {key}: {exc}") from exc
        except MinioException as exc:
            raise StorageError(f"S3 error on {key}: {exc}") from exc
        except MaxRetryError as exc:
            if isinstance(exc.reason, SSLError):
                raise StorageError(f"TLS error talking to S3: {exc.reason}") from exc
            raise TransientStorageError(
                f"S3 request on {key} failed after retries: {exc.reason}"
            ) from exc
        except urllib3.exceptions.HTTPError as exc:
            # ProtocolError, ReadTimeoutError, ...: the connection broke mid-request.
            raise TransientStorageError(f"S3 connection error on {key}: {exc}") from exc
        except (ConnectionError, TimeoutError) as exc:
            raise TransientStorageError(f"S3 connection error on {key}: {exc}") from exc
        except OSError as exc:
            # minio raises IOError when a stream is shorter than its declared length.
            raise StorageError(f"S3 upload of {key} failed: {exc}") from exc

    # -- writes --------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        with self._translate(self.bucket):
            if self.client.bucket_exists(self.bucket):
                return
            try:
                self.client.make_bucket(self.bucket, location=self.region)
            except S3Error as exc:
                # Another process created it first.
                if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        length: int | None = None,
        max_bytes: int | None = None,
    ) -> StoredObject:
        validate_key(key)
        check_declared_length(key, length, max_bytes)
        reader = HashingReader(stream, key, length=length, max_bytes=max_bytes)
        with self._translate(key):
            # Unknown length: minio streams fixed-size parts (multipart upload) and aborts
            # the upload on any error, including ObjectTooLarge from the reader, so nothing
            # is left behind. One upload thread: parallel part uploads hold more parts in
            # memory and leak their worker threads when the stream raises.
            self.client.put_object(
                self.bucket,
                key,
                cast(BinaryIO, reader),
                length if length is not None else -1,
                content_type=content_type,
                part_size=0 if length is not None else self._part_size_for(max_bytes),
                num_parallel_uploads=1,
            )
        reader.check_length(length)
        return StoredObject(key, reader.size, reader.sha256, content_type)

    def _part_size_for(self, max_bytes: int | None) -> int:
        # S3 allows at most 10,000 parts: grow the part size if max_bytes needs it.
        if max_bytes is None:
            return self.part_size
        needed = math.ceil(max_bytes / MAX_PARTS / MIB) * MIB
        return max(self.part_size, needed)

    # -- reads ---------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        with self._translate(key):
            response = self.client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def download_to(self, key: str, path: Path) -> Path:
        path = Path(path)
        with self.open_stream(key) as src:
            write_file_atomic(path, lambda dst: shutil.copyfileobj(src, dst, CHUNK_SIZE))
        return path

    @contextmanager
    def open_stream(self, key: str) -> Iterator[BinaryIO]:
        validate_key(key)
        with self._translate(key):
            response = self.client.get_object(self.bucket, key)
        try:
            yield cast(
                BinaryIO, io.BufferedReader(_ResponseStream(response, self, key), CHUNK_SIZE)
            )
        finally:
            response.close()
            response.release_conn()

    def stat(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        try:
            with self._translate(key):
                obj = self.client.stat_object(self.bucket, key)
        except ObjectNotFound:
            return None
        return ObjectInfo(key, int(obj.size or 0), obj.content_type or DEFAULT_CONTENT_TYPE)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)  # here, not in the generator, so bad prefixes fail at the call
        return self._iter_keys(prefix)

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        with self._translate(prefix):
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if obj.object_name is not None:
                    yield obj.object_name

    # -- deletes -------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        validate_key(key)
        try:
            with self._translate(key):
                self.client.remove_object(self.bucket, key)
        except ObjectNotFound:
            pass

    def delete_prefix(self, prefix: str) -> int:
        require_delete_prefix(prefix)
        keys = list(self.list_keys(prefix))
        with self._translate(prefix):
            # remove_objects is lazy: iterating its result performs the batched deletes.
            errors = list(self.client.remove_objects(self.bucket, (DeleteObject(k) for k in keys)))
        if errors:
            first = errors[0]
            raise StorageError(
                f"could not delete {len(errors)} objects under {prefix}: "
                f"{first.name}: {first.code} {first.message}"
            )
        return len(keys)

    # -- signed links --------------------------------------------------------------------

    def presigned_get_url(
        self, key: str, expires: timedelta, *, filename: str | None = None
    ) -> str:
        validate_key(key)
        headers: dict[str, str | list[str] | tuple[str]] | None = None
        if filename:
            headers = {"response-content-disposition": content_disposition(filename)}
        with self._translate(key):
            return self.client.presigned_get_object(
                self.bucket, key, expires=expires, response_headers=headers
            )

    def presigned_put_url(self, key: str, expires: timedelta) -> str:
        validate_key(key)
        with self._translate(key):
            return self.client.presigned_put_object(self.bucket, key, expires=expires)


class _ResponseStream(io.RawIOBase):
    """A GET response body as a raw stream whose network errors become storage errors."""

    def __init__(self, response: urllib3.BaseHTTPResponse, store: S3ObjectStore, key: str):
        self._response = response
        self._store = store
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        with self._store._translate(self._key):
            return self._response.readinto(buffer)


def _raise_s3_error(exc: S3Error, key: str, bucket: str) -> NoReturn:
    if exc.code in _NOT_FOUND_CODES:
        raise ObjectNotFound(key) from exc
    if exc.code == "NoSuchBucket":
        raise StorageError(f"bucket {bucket!r} does not exist; call ensure_ready()") from exc
    status = getattr(exc.response, "status", 0) or 0
    if exc.code in _TRANSIENT_CODES or status >= 500:
        raise TransientStorageError(f"S3 {exc.code} on {key}: {exc.message}") from exc
    raise StorageError(f"S3 {exc.code} on {key}: {exc.message}") from exc
