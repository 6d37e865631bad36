"""Sign and verify a statement document (pure apart from the keys it is given).

The signature covers the document's canonical JSON: every member but ``signature``, keys
sorted, no whitespace, UTF-8 (``json.dumps(doc, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``). The document holds no floats (money is integer minor units, time whole
seconds), so every JSON library reproduces the same bytes. ``signature`` holds the algorithm,
the key id and the signature in base64.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine.statements.keys import key_id

ALGORITHM = "Ed25519"
CANONICALIZATION = "json-sorted-keys-no-whitespace-utf8"
SIGNATURE_FIELD = "signature"


def canonical_json(document: Mapping[str, Any]) -> bytes:
    unsigned = {k: v for k, v in document.items() if k != SIGNATURE_FIELD}
    return json.dumps(
        unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sign_document(document: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``document`` with its ``signature`` member (any earlier one replaced)."""
    signature = key.sign(canonical_json(document))
    return {
        **{k: v for k, v in document.items() if k != SIGNATURE_FIELD},
        SIGNATURE_FIELD: {
            "algorithm": ALGORITHM,
            "canonicalization": CANONICALIZATION,
            "key_id": key_id(key.public_key()),
            "value": base64.b64encode(signature).decode(),
        },
    }


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    reason: str
    key_id: str | None = None


def verify_document(document: Any, keys: Mapping[str, Ed25519PublicKey]) -> Verdict:
    """Whether ``document`` was signed by one of ``keys`` (key id → public key) and is
    unaltered since; the reason says why not."""
    if not isinstance(document, dict):
        return Verdict(False, "a statement is a JSON object")
    signature = document.get(SIGNATURE_FIELD)
    if not isinstance(signature, dict):
        return Verdict(False, "the statement carries no signature")
    if signature.get("algorithm") != ALGORITHM:
        return Verdict(False, f"the signature is not {ALGORITHM}")
    kid = signature.get("key_id")
    if not isinstance(kid, str):
        return Verdict(False, "the signature names no key id")
    key = keys.get(kid)
    if key is None:
        return Verdict(False, "the statement was signed with a key this engine does not know", kid)
    value = signature.get("value")
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 64:
        return Verdict(False, "the signature value is not a base64 Ed25519 signature", kid)
    try:
        message = canonical_json(document)
    except (ValueError, TypeError):
        return Verdict(False, "the statement holds values a statement never has", kid)
    try:
        key.verify(raw, message)
    except InvalidSignature:
        return Verdict(False, "the signature does not match: the statement was altered", kid)
    return Verdict(True, "signed by this engine and unaltered", kid)
