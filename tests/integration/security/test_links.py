"""Signed links against the real test API: forged with the old published default they are
refused; after a rotation, links signed with the previous key still work."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from engine.api.app import create_app
from engine.secrets import KNOWN_DEFAULTS, resolve_secrets
from engine.storage.signed_urls import sign_media_url
from engine.work.label_studio_entry import INVALID_LINK
from engine.work.start_links import start_link
from engine.workforce.service import register_worker

OLD_DEFAULT = "kazi-dev-signing-secret"


def _local(url: str) -> str:
    """The path and query of a link, for the in-process test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_media_links_forged_with_the_old_default_secret_are_refused(api, ctx) -> None:  # type: ignore[no-untyped-def]
    assert ctx.settings.signing_secret not in KNOWN_DEFAULTS
    key = f"security-tests/{uuid.uuid4().hex}/clip.wav"
    ctx.store.put_bytes(key, b"the real recording", content_type="audio/wav")
    expires = int(time.time()) + 600

    forged_get = sign_media_url("http://x", key, "GET", expires, OLD_DEFAULT)
    assert api.get(_local(forged_get)).status_code == 403
    forged_put = sign_media_url("http://x", key, "PUT", expires, OLD_DEFAULT)
    assert api.put(_local(forged_put), content=b"replaced").status_code == 403
    assert ctx.store.get_bytes(key) == b"the real recording"

    # The engine's own links for the same object work, so the refusals are the signature's.
    own_get = api.get(_local(ctx.store.presigned_get_url(key, timedelta(minutes=5))))
    assert own_get.status_code == 200 and own_get.content == b"the real recording"
    own_put = api.put(
        _local(ctx.store.presigned_put_url(key, timedelta(minutes=5))), content=b"new take"
    )
    assert own_put.status_code == 200
    assert ctx.store.get_bytes(key) == b"new take"


def test_start_links_signed_before_a_rotation_still_work(ctx) -> None:  # type: ignore[no-untyped-def]
    worker = ctx.in_unit_of_work(register_worker, f"sec-{uuid.uuid4().hex[:10]}", "qualified")
    old = ctx.settings.signing_secret
    new = f"rotated-signing-secret-{uuid.uuid4().hex}"
    rotated_settings = ctx.settings.model_copy(
        update={"signing_secret": new, "signing_secret_previous": old}
    )
    rotated = dataclasses.replace(ctx, settings=resolve_secrets(rotated_settings))
    # No such job: a link the engine accepts answers "no job ...", a refused one 403.
    missing_job = f"&job_id={uuid.uuid4()}"
    with TestClient(create_app(rotated)) as client:

        def open_link(secret: str):  # type: ignore[no-untyped-def]
            link = start_link("http://x", worker.id, secret) + missing_job
            return client.get(_local(link), follow_redirects=False)

        for accepted in (new, old):
            resp = open_link(accepted)
            assert resp.status_code == 404 and f"no job {missing_job[8:]}" in resp.text
        for refused in (f"unknown-signing-secret-{uuid.uuid4().hex}", OLD_DEFAULT):
            resp = open_link(refused)
            assert resp.status_code == 403 and INVALID_LINK in resp.text
    # Dropping the old key from the list ends its links.
    ended = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"signing_secret": new})
    )
    with TestClient(create_app(ended)) as client:
        link = start_link("http://x", worker.id, old) + missing_job
        assert client.get(_local(link), follow_redirects=False).status_code == 403
