from __future__ import annotations

from pathlib import Path

import pytest

from engine.settings import Settings
from engine.storage.factory import build_object_store
from engine.storage.local_store import LocalObjectStore
from engine.storage.s3_store import S3ObjectStore
from tests.s3_server import MotoS3Server, new_bucket_name


def test_local_backend(tmp_path: Path) -> None:
    settings = Settings(store_backend="local", var_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    store = build_object_store(settings)
    assert isinstance(store, LocalObjectStore)
    assert store.root == (tmp_path / "objects").resolve()
    store.ensure_ready()
    assert store.put_bytes("clients/a/jobs/b/c", b"x").size == 1


def test_s3_backend(moto_s3_server: MotoS3Server) -> None:
    bucket = new_bucket_name()
    settings = Settings(**moto_s3_server.settings_overrides(bucket), _env_file=None)  # type: ignore[call-arg]
    store = build_object_store(settings)
    assert isinstance(store, S3ObjectStore)
    try:
        store.ensure_ready()
        store.put_bytes("clients/a/jobs/b/c", b"x")
        assert store.get_bytes("clients/a/jobs/b/c") == b"x"
    finally:
        moto_s3_server.remove_bucket(bucket)


def test_backend_name_is_case_insensitive(tmp_path: Path) -> None:
    settings = Settings(store_backend=" Local ", var_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert isinstance(build_object_store(settings), LocalObjectStore)


def test_unknown_backend_is_a_clear_error() -> None:
    settings = Settings(store_backend="gcs", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unknown object store backend 'gcs'.*local, s3"):
        build_object_store(settings)
