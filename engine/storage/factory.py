"""Builds the configured object store from settings."""

from __future__ import annotations

from engine.settings import Settings
from engine.storage.local_store import LocalObjectStore
from engine.storage.object_store import ObjectStore
from engine.storage.s3_store import S3ObjectStore

BACKENDS = ("local", "s3")


def build_object_store(settings: Settings) -> ObjectStore:
    """``settings.store_backend``: ``local`` (directory) or ``s3``. Call ``ensure_ready()``
    once at startup; building does no I/O."""
    backend = settings.store_backend.strip().lower()
    if backend == "local":
        return LocalObjectStore(
            settings.resolved_store_dir(), settings.public_url, settings.signing_secret
        )
    if backend == "s3":
        return S3ObjectStore(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
    raise ValueError(
        f"unknown object store backend {settings.store_backend!r} (KAZI_STORE_BACKEND); "
        f"expected one of: {', '.join(BACKENDS)}"
    )
