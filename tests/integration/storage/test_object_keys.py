from __future__ import annotations

import uuid

import pytest

from engine.storage.object_keys import (
    InvalidObjectKey,
    job_prefix,
    object_key,
    validate_key,
    validate_prefix,
)


def test_job_prefix() -> None:
    assert job_prefix("acme", 42) == "clients/acme/jobs/42/"
    job = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert job_prefix(7, job) == f"clients/7/jobs/{job}/"


def test_object_key() -> None:
    assert (
        object_key("acme", 42, "segments", "0001.wav") == "clients/acme/jobs/42/segments/0001.wav"
    )
    assert object_key("acme", 42, "spec.json").startswith(job_prefix("acme", 42))


@pytest.mark.parametrize(
    "bad_part",
    ["", "..", ".", ".env", "a/b", "a\\b", "a\x00b", "tab\there", "caf\u00e9", "a b", "x" * 201],
)
def test_bad_parts_are_rejected(bad_part: str) -> None:
    with pytest.raises(InvalidObjectKey):
        object_key("acme", 1, bad_part)
    with pytest.raises(InvalidObjectKey):
        job_prefix(bad_part, 1)
    with pytest.raises(InvalidObjectKey):
        job_prefix("acme", bad_part)


def test_errors_are_value_errors_with_clear_messages() -> None:
    with pytest.raises(ValueError, match="must not contain '/'"):
        object_key("acme", 1, "a/b")
    with pytest.raises(ValueError, match="invalid client_id"):
        job_prefix("..", 1)
    with pytest.raises(ValueError, match="NUL"):
        object_key("acme", 1, "a\x00")
    with pytest.raises(ValueError, match="ASCII"):
        object_key("acme", 1, "ü")


def test_object_key_needs_a_part() -> None:
    with pytest.raises(InvalidObjectKey):
        object_key("acme", 1)


def test_bool_ids_are_rejected() -> None:
    with pytest.raises(InvalidObjectKey):
        job_prefix(True, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "/a", "a/", "a//b", "a/../b", "../a"])
def test_validate_key(bad: str) -> None:
    assert validate_key("clients/a/jobs/b/c.wav") == "clients/a/jobs/b/c.wav"
    with pytest.raises(InvalidObjectKey):
        validate_key(bad)


def test_validate_prefix() -> None:
    for ok in ["", "clients/", "clients/a/jobs/b/", "clients/a/jobs/b/seg"]:
        assert validate_prefix(ok) == ok
    for bad in ["/", "/clients", "clients//", "../", "clients/../"]:
        with pytest.raises(InvalidObjectKey):
            validate_prefix(bad)
