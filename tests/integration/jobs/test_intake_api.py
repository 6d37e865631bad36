"""Intake through the HTTP API on PostgreSQL: uploads, object references, listing, isolation."""

from __future__ import annotations

import hashlib
import json

import httpx

from tests.conftest import make_client
from tests.media_samples import png_bytes, speech_wav_bytes

TRANSCRIPTION = {"kind": "transcription", "overlap": 2}


def _upload(api, auth, files, spec=TRANSCRIPTION):  # type: ignore[no-untyped-def]
    return api.post(
        "/v1/jobs",
        headers=auth,
        data={"spec": json.dumps(spec)},
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
    )


def test_multipart_upload_stores_each_distinct_file_once(api, ctx, client_auth):
    client_id, auth = client_auth
    a = speech_wav_bytes("1089-134686-0001.flac")
    b = speech_wav_bytes("1089-134691-0000.flac")
    resp = _upload(api, auth, [("a.wav", a), ("b.wav", b), ("a-again.wav", a)])
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert job["kind"] == "transcription"
    assert job["stage"] in {"received", "splitting", "split"}
    assert [s["filename"] for s in job["sources"]] == ["a.wav", "b.wav"]
    assert {s["sha256"] for s in job["sources"]} == {
        hashlib.sha256(a).hexdigest(),
        hashlib.sha256(b).hexdigest(),
    }
    assert job["stage_history"][0]["stage"] == "received"
    # The bytes in the store are exactly what was uploaded, under the client's and job's prefix.
    from engine.jobs.repository import JobRepository

    with ctx.sessions() as session:
        sources = JobRepository(session).sources(job["id"])
    for source in sources:
        assert source.object_key.startswith(f"clients/{client_id}/jobs/{job['id']}/")
        assert hashlib.sha256(ctx.store.get_bytes(source.object_key)).hexdigest() == source.sha256


def test_json_job_references_objects_uploaded_with_a_presigned_url(api, ctx, client_auth):
    client_id, auth = client_auth
    grant = api.post("/v1/uploads", headers=auth)
    assert grant.status_code == 201, grant.text
    key = grant.json()["key"]
    assert key.startswith(f"clients/{client_id}/")
    data = png_bytes(640, 480)
    # The local store's presigned URL points at the engine's signed media route.
    put_url = httpx.URL(grant.json()["url"])
    put = api.put(put_url.raw_path.decode(), content=data, headers={"content-type": "image/png"})
    assert put.status_code == 200, put.text

    spec = {"kind": "image_classification", "labels": ["cat", "dog"], "overlap": 3}
    resp = api.post(
        "/v1/jobs",
        headers=auth,
        json={"spec": spec, "sources": [{"key": key, "filename": "pet.png"}]},
    )
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert job["sources"][0]["filename"] == "pet.png"
    assert job["sources"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert job["spec"]["labels"] == ["cat", "dog"]


def test_list_jobs_paginates_newest_first(api, ctx):
    _, auth = make_client(ctx)
    ids = []
    for _ in range(3):
        resp = _upload(
            api, auth, [("x.png", png_bytes(64, 64))], {"kind": "image_boxes", "labels": ["car"]}
        )
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    page1 = api.get("/v1/jobs", headers=auth, params={"limit": 2}).json()
    page2 = api.get("/v1/jobs", headers=auth, params={"limit": 2, "offset": 2}).json()
    assert page1["total"] == 3
    assert [j["id"] for j in page1["items"] + page2["items"]] == list(reversed(ids))


def test_a_client_never_sees_another_clients_job(api, ctx):
    _, alice = make_client(ctx)
    _, bob = make_client(ctx)
    resp = _upload(api, alice, [("a.wav", speech_wav_bytes())])
    job_id = resp.json()["id"]
    assert api.get(f"/v1/jobs/{job_id}", headers=alice).status_code == 200
    for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/tasks"):
        other = api.get(path, headers=bob)
        assert other.status_code == 404
        assert other.json()["detail"] == f"job {job_id} not found"
    assert job_id not in [j["id"] for j in api.get("/v1/jobs", headers=bob).json()["items"]]
    # Nor can Bob build a job from Alice's stored objects.
    from engine.jobs.repository import JobRepository

    with ctx.sessions() as session:
        alice_key = JobRepository(session).sources(job_id)[0].object_key
    stolen = api.post(
        "/v1/jobs",
        headers=bob,
        json={"spec": TRANSCRIPTION, "sources": [{"key": alice_key}]},
    )
    assert stolen.status_code == 404


def test_openapi_documents_the_intake(api):
    doc = api.get("/openapi.json").json()
    assert "/v1/jobs" in doc["paths"]
    assert "multipart/form-data" in doc["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    assert api.get("/docs").status_code == 200
