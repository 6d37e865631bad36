"""Object storage adapters: a narrow ``ObjectStore`` over a local directory or S3/MinIO."""

from engine.storage.factory import build_object_store
from engine.storage.local_store import LocalObjectStore
from engine.storage.object_keys import (
    InvalidObjectKey,
    job_prefix,
    object_key,
    validate_key,
    validate_key_part,
    validate_prefix,
)
from engine.storage.object_store import (
    DEFAULT_CONTENT_TYPE,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    ObjectTooLarge,
    StorageError,
    StoredObject,
    TransientStorageError,
)
from engine.storage.s3_store import S3ObjectStore
from engine.storage.signed_urls import content_disposition, sign_media_url, verify_media_signature

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "InvalidObjectKey",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectTooLarge",
    "S3ObjectStore",
    "StorageError",
    "StoredObject",
    "TransientStorageError",
    "build_object_store",
    "content_disposition",
    "job_prefix",
    "object_key",
    "sign_media_url",
    "validate_key",
    "validate_key_part",
    "validate_prefix",
    "verify_media_signature",
]
