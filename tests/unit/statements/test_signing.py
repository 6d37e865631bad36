"""Statements are signed over their canonical JSON: a round trip verifies; a changed amount,
another key or a missing signature does not; a rotated key still verifies what it signed."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine.settings import Settings
from engine.statements.keys import (
    StatementKeySettings,
    StatementKeyUnavailable,
    key_id,
    load_private_key,
    statement_keys,
)
from engine.statements.signing import canonical_json, sign_document, verify_document

DOC = {
    "format": "kazi.income-statement.v1",
    "worker": {"id": "w1", "handle": "amina"},
    "money": [{"currency": "KES", "net_earnings": {"currency": "KES", "minor": 123_450,
                                                   "text": "KES 1,234.50"}}],
    "work": {"working_seconds": 3600, "note": "Zürich ✓"},
}  # fmt: skip
PRODUCTION = Settings(database_url="postgresql+psycopg://x@127.0.0.1/x")


def _raw(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _keys(current: Ed25519PrivateKey, previous: str = ""):  # type: ignore[no-untyped-def]
    return statement_keys(
        PRODUCTION,
        StatementKeySettings(
            statement_signing_key=_raw(current), statement_signing_key_previous=previous
        ),
    )


def test_canonical_json_is_sorted_compact_utf8_and_leaves_the_signature_out() -> None:
    text = canonical_json({"b": 1, "a": {"d": "é", "c": [1, 2]}, "signature": {"x": 1}})
    assert text == '{"a":{"c":[1,2],"d":"é"},"b":1}'.encode()


def test_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    keys = _keys(key)
    signed = sign_document(DOC, keys.signing)
    assert signed["signature"]["key_id"] == key_id(key.public_key()) == keys.current_id
    # Through JSON and back, as a lender would send it.
    verdict = verify_document(json.loads(json.dumps(signed)), keys.verifying)
    assert verdict.valid, verdict.reason


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["money"][0]["net_earnings"].__setitem__("minor", 923_450),
        lambda d: d["money"][0]["net_earnings"].__setitem__("text", "KES 9,234.50"),
        lambda d: d["work"].__setitem__("working_seconds", 36_000),
        lambda d: d.__setitem__("extra", True),
        lambda d: d["worker"].pop("handle"),
    ],
)
def test_any_change_breaks_the_signature(tamper) -> None:  # type: ignore[no-untyped-def]
    keys = _keys(Ed25519PrivateKey.generate())
    signed = sign_document(DOC, keys.signing)
    tampered = copy.deepcopy(signed)
    tamper(tampered)
    verdict = verify_document(tampered, keys.verifying)
    assert not verdict.valid and "altered" in verdict.reason


def test_a_statement_signed_by_another_key_is_not_valid() -> None:
    signed = sign_document(DOC, Ed25519PrivateKey.generate())
    verdict = verify_document(signed, _keys(Ed25519PrivateKey.generate()).verifying)
    assert not verdict.valid and "does not know" in verdict.reason


def test_a_forged_key_id_does_not_help() -> None:
    keys = _keys(Ed25519PrivateKey.generate())
    forged = sign_document(DOC, Ed25519PrivateKey.generate())
    forged["signature"]["key_id"] = keys.current_id
    assert not verify_document(forged, keys.verifying).valid


@pytest.mark.parametrize(
    "previous_form", [_raw, _pem, _public_pem], ids=["raw-private", "pem-private", "pem-public"]
)
def test_a_rotated_key_still_verifies_what_it_signed(previous_form) -> None:  # type: ignore[no-untyped-def]
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    signed_before = sign_document(DOC, old)
    assert not verify_document(signed_before, _keys(new).verifying).valid
    keys = _keys(new, previous=previous_form(old))
    assert verify_document(signed_before, keys.verifying).valid
    # New statements are signed with the new key.
    assert sign_document(DOC, keys.signing)["signature"]["key_id"] == key_id(new.public_key())


@pytest.mark.parametrize(
    "document",
    [
        [],
        "statement",
        {"work": {}},
        {"signature": "abc"},
        {"signature": {"algorithm": "RS256", "key_id": "x", "value": "x"}},
        {"signature": {"algorithm": "Ed25519", "value": "x"}},
        {"signature": {"algorithm": "Ed25519", "key_id": "KID", "value": "not base64!"}},
        {"signature": {"algorithm": "Ed25519", "key_id": "KID", "value": "AAAA"}},
        {"signature": {"algorithm": "Ed25519", "key_id": "KID", "value": 12}},
    ],
)
def test_malformed_statements_are_not_valid(document) -> None:  # type: ignore[no-untyped-def]
    keys = _keys(Ed25519PrivateKey.generate())
    signature = document.get("signature") if isinstance(document, dict) else None
    if isinstance(signature, dict) and signature.get("key_id") == "KID":
        signature["key_id"] = keys.current_id
    verdict = verify_document(document, keys.verifying)
    assert not verdict.valid and verdict.reason


def test_key_formats() -> None:
    key = Ed25519PrivateKey.generate()
    expected = key_id(key.public_key())
    assert key_id(load_private_key(_pem(key)).public_key()) == expected
    assert key_id(load_private_key(_raw(key)).public_key()) == expected
    urlsafe = _raw(key).replace("+", "-").replace("/", "_").rstrip("=")
    assert key_id(load_private_key(urlsafe).public_key()) == expected
    for bad in ("", "short", base64.b64encode(b"x" * 31).decode(), "-----BEGIN PRIVATE KEY-----"):
        with pytest.raises(ValueError):
            load_private_key(bad)


def test_production_without_a_key_is_unavailable_not_invented() -> None:
    with pytest.raises(StatementKeyUnavailable) as refused:
        statement_keys(PRODUCTION, StatementKeySettings(statement_signing_key=""))
    assert refused.value.status == 503
    assert "KAZI_STATEMENT_SIGNING_KEY" in refused.value.message
    with pytest.raises(StatementKeyUnavailable):
        statement_keys(PRODUCTION, StatementKeySettings(statement_signing_key="not-a-key"))
    with pytest.raises(StatementKeyUnavailable):
        _keys(Ed25519PrivateKey.generate(), previous="garbage")


def test_embedded_mode_generates_one_key_and_keeps_it(tmp_path: Path) -> None:
    embedded = Settings(database_url="", broker_url="", store_backend="local", var_dir=tmp_path)
    first = statement_keys(embedded, StatementKeySettings(statement_signing_key=""))
    second = statement_keys(embedded, StatementKeySettings(statement_signing_key=""))
    assert first.current_id == second.current_id
    path = tmp_path / "secrets" / "statement_signing_key"
    assert path.exists() and path.stat().st_mode & 0o077 == 0
