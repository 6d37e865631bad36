from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from engine.storage.signed_urls import content_disposition, sign_media_url, verify_media_signature

SECRET = "s3cret"
KEY = "clients/c1/jobs/j1/in/a.wav"
NOW = 1_700_000_000.0
EXPIRES = int(NOW) + 300


def _signature(url: str) -> str:
    return parse_qs(urlsplit(url).query)["signature"][0]


def test_url_shape() -> None:
    url = sign_media_url("http://api:8000/", KEY, "GET", EXPIRES, SECRET)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "api:8000", f"/v1/media/{KEY}")
    query = parse_qs(parts.query)
    assert query["expires"] == [str(EXPIRES)]
    assert len(query["signature"][0]) == 64


def test_sign_verify_round_trip() -> None:
    sig = _signature(sign_media_url("http://x", KEY, "GET", EXPIRES, SECRET))
    assert verify_media_signature(KEY, "GET", EXPIRES, sig, SECRET, NOW)
    assert verify_media_signature(KEY, "get", EXPIRES, sig, SECRET, NOW)  # method case-insensitive
    assert verify_media_signature(KEY, "GET", EXPIRES, sig, SECRET, float(EXPIRES))  # last second


@pytest.mark.parametrize(
    ("key", "method", "expires", "secret"),
    [
        ("clients/c1/jobs/j1/in/b.wav", "GET", EXPIRES, SECRET),  # other key
        (KEY, "PUT", EXPIRES, SECRET),  # other method
        (KEY, "GET", EXPIRES + 3600, SECRET),  # extended expiry
        (KEY, "GET", EXPIRES, "other-secret"),  # other secret
    ],
)
def test_tampering_is_rejected(key: str, method: str, expires: int, secret: str) -> None:
    sig = _signature(sign_media_url("http://x", KEY, "GET", EXPIRES, SECRET))
    assert not verify_media_signature(key, method, expires, sig, secret, NOW)


@pytest.mark.parametrize("signature", ["", "0" * 64, "zz", "é" * 64, "A" * 1000])
def test_forged_signatures_are_rejected(signature: str) -> None:
    assert not verify_media_signature(KEY, "GET", EXPIRES, signature, SECRET, NOW)


def test_expired_is_rejected() -> None:
    sig = _signature(sign_media_url("http://x", KEY, "GET", EXPIRES, SECRET))
    assert not verify_media_signature(KEY, "GET", EXPIRES, sig, SECRET, EXPIRES + 0.5)
    assert not verify_media_signature(KEY, "GET", EXPIRES, sig, SECRET, EXPIRES + 3600)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        sign_media_url("http://x", KEY, "GET", EXPIRES, "")


def test_filename_is_passed_along() -> None:
    url = sign_media_url("http://x", KEY, "GET", EXPIRES, SECRET, filename="a b&c.wav")
    assert parse_qs(urlsplit(url).query)["filename"] == ["a b&c.wav"]


def test_content_disposition_is_header_safe() -> None:
    value = content_disposition('Ré"union;\r\n.txt')
    assert "\r" not in value and "\n" not in value
    assert value.startswith('attachment; filename="R__union___.txt"')
    assert value.endswith("filename*=UTF-8''R%C3%A9%22union%3B%0D%0A.txt")
