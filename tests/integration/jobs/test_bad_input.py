"""Bad input at intake: each case gets a 4xx with a message, and nothing is left behind."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.media_samples import png_bytes, speech_wav_bytes

WAV = speech_wav_bytes()
PNG = png_bytes(32, 32)
GOOD_SPEC = {"kind": "transcription"}


@dataclasses.dataclass
class Case:
    name: str
    status: int
    message: str
    files: list[tuple[Any, bytes]] = dataclasses.field(default_factory=lambda: [("a.wav", WAV)])
    spec: Any = dataclasses.field(default_factory=lambda: dict(GOOD_SPEC))
    headers: dict[str, str] | None = None


CASES = [
    Case("empty file", 422, "is empty", files=[("a.wav", b"")]),
    Case(
        "text file named .wav",
        415,
        "not a supported audio or image format",
        files=[("notes.wav", b"these are my meeting notes, not audio at all\n" * 4)],
    ),
    Case(
        "unsupported type",
        415,
        "unsupported file type '.gif'",
        files=[("anim.gif", b"GIF89a" + b"\x00" * 64)],
    ),
    Case(
        "image in a transcription job",
        415,
        "but a transcription job takes audio",
        files=[("photo.png", PNG)],
    ),
    Case(
        "audio in an image job",
        415,
        "but a image_boxes job takes image",
        files=[("a.wav", WAV)],
        spec={"kind": "image_boxes", "labels": ["car"]},
    ),
    Case(
        "path traversal filename",
        422,
        "must be a plain name",
        files=[("../../etc/passwd.wav", WAV)],
    ),
    Case("windows path filename", 422, "must be a plain name", files=[("..\\..\\boot.wav", WAV)]),
    Case("no files", 422, "at least one file", files=[]),
    Case("spec not JSON", 422, "spec is not valid JSON", spec="{kind: transcription"),
    Case("unknown kind", 422, "kind", spec={"kind": "video_tracking"}),
    Case("negative overlap", 422, "overlap", spec={"kind": "transcription", "overlap": -1}),
    Case(
        "negative segment overlap",
        422,
        "segment_overlap_seconds",
        spec={"kind": "transcription", "segment_overlap_seconds": -0.5},
    ),
    Case(
        "segment overlap longer than segments",
        422,
        "must be smaller than max_segment_seconds",
        spec={"kind": "transcription", "max_segment_seconds": 5, "segment_overlap_seconds": 5},
    ),
    Case(
        "labels missing for a labeling kind",
        422,
        "needs at least two labels",
        files=[("p.png", PNG)],
        spec={"kind": "image_classification"},
    ),
    Case(
        "labels on a transcription job",
        422,
        "takes no labels",
        spec={"kind": "transcription", "labels": ["a", "b"]},
    ),
    Case(
        "duplicate labels",
        422,
        "labels must be unique",
        files=[("p.png", PNG)],
        spec={"kind": "image_boxes", "labels": ["car", "car"]},
    ),
    Case("gold ratio of one", 422, "gold_ratio", spec={"kind": "transcription", "gold_ratio": 1.0}),
    Case(
        "deadline in the past",
        422,
        "deadline is in the past",
        spec={"kind": "transcription", "deadline": "2001-01-01T00:00:00Z"},
    ),
    Case(
        "unknown spec field",
        422,
        "Extra inputs are not permitted",
        spec={"kind": "transcription", "overlapp": 3},
    ),
    Case(
        "wrong API key",
        401,
        "invalid or revoked API key",
        headers={"Authorization": "Bearer kazi_000000000000_not-a-real-key"},
    ),
    Case("missing API key", 401, "missing API key", headers={}),
    Case(
        "right-to-left override in a filename",
        422,
        "bidirectional controls or line separators",
        files=[("clip\u202egnp.wav", WAV)],
    ),
    Case(
        "line separator in a filename",
        422,
        "bidirectional controls or line separators",
        files=[("clip\u2028.wav", WAV)],
    ),
    Case("NUL in a filename", 422, "control characters", files=[(b"clip\x00.wav", WAV)]),
    Case(
        "NUL in a label",
        422,
        "labels.1: Value error, must not contain control characters",
        files=[("p.png", PNG)],
        spec={"kind": "image_boxes", "labels": ["car", "b\x00us"]},
    ),
    Case(
        "lone surrogate in a label",
        422,
        "labels.0: Input should be a valid string",
        files=[("p.png", PNG)],
        spec={"kind": "image_boxes", "labels": ["\ud800", "bus"]},
    ),
    Case(
        "NUL in a gold transcript",
        422,
        "must not contain NUL characters",
        spec={"kind": "transcription", "gold": [{"filename": "a.wav", "text": "a\x00b"}]},
    ),
    Case("spec nested too deeply", 422, "nested too deeply", spec="[" * 100_000),
    Case(
        "infinite gold box",
        422,
        "Input should be a finite number",
        files=[("p.png", PNG)],
        spec='{"kind": "image_boxes", "labels": ["car"], "gold": [{"filename": "p.png", '
        '"boxes": [{"label": "car", "x": 0, "y": 0, "w": Infinity, "h": 1}]}]}',
    ),
    Case(
        "NaN pay rate",
        422,
        "Input should be a finite number",
        spec='{"kind": "transcription", "pay_rate": {"amount": NaN}}',
    ),
]

# Bounds of a spec, the same in both forms (multipart "spec" field or the JSON job).
BIG_GOLD = [{"filename": f"{i}.wav", "text": "x" * 99_000} for i in range(11)]  # 1.09 MB
BOX = {"label": "car", "x": 0, "y": 0, "w": 1, "h": 1}
SPEC_BOUNDS = [
    ("too many labels", {"kind": "image_boxes", "labels": [f"l{i}" for i in range(201)]},
     "labels: List should have at most 200 items"),
    ("a label too long", {"kind": "image_boxes", "labels": ["a" * 101, "b"]},
     "labels.0: String should have at most 100 characters"),
    ("too many gold files", {"kind": "transcription",
                             "gold": [{"filename": f"{i}.wav", "text": "x"} for i in range(1001)]},
     "gold: List should have at most 1000 items"),
    ("a gold transcript too long", {"kind": "transcription",
                                    "gold": [{"filename": "a.wav", "text": "x" * 100_001}]},
     "gold.0.text: String should have at most 100000 characters"),
    ("too many gold boxes", {"kind": "image_boxes", "labels": ["car"],
                             "gold": [{"filename": "p.png", "boxes": [BOX] * 1001}]},
     "gold.0.boxes: List should have at most 1000 items"),
    ("a spec over 1 MiB", {"kind": "transcription", "gold": BIG_GOLD},
     "the spec is larger than 1048576 bytes as JSON"),
]  # fmt: skip


def _raw_multipart(spec: str, files: list[tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """Multipart built by hand: HTTP clients refuse filenames that are not valid text."""
    boundary = "kazi-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="spec"\r\n\r\n{spec}\r\n'.encode()
    ]
    for name, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="'.encode()
            + name
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _post(api: TestClient, headers: dict[str, str], case: Case):  # type: ignore[no-untyped-def]
    spec = case.spec if isinstance(case.spec, str) else json.dumps(case.spec)
    if any(isinstance(name, bytes) for name, _ in case.files):
        body, content_type = _raw_multipart(spec, case.files)
        return api.post("/v1/jobs", headers={**headers, "content-type": content_type}, content=body)
    files = [("files", (name, data, "application/octet-stream")) for name, data in case.files]
    if not files:
        return api.post("/v1/jobs", headers=headers, data={"spec": spec})
    return api.post("/v1/jobs", headers=headers, data={"spec": spec}, files=files)


def _job_count(ctx) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from engine.db.models import JobRow

    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(JobRow)) or 0


def _object_count(ctx, client_id: str) -> int:  # type: ignore[no-untyped-def]
    return len(list(ctx.store.list_keys(f"clients/{client_id}/")))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_intake_rejects_bad_input_and_keeps_nothing(api, ctx, client_auth, case: Case):
    client_id, auth = client_auth
    jobs_before = _job_count(ctx)
    headers = auth if case.headers is None else case.headers
    resp = _post(api, headers, case)
    assert resp.status_code == case.status, resp.text
    assert case.message in json.dumps(resp.json()["detail"]), resp.text
    assert _job_count(ctx) == jobs_before
    assert _object_count(ctx, client_id) == 0


def test_oversized_upload_is_refused_with_413_and_nothing_stored(ctx, client_auth):
    from engine.api.app import create_app

    client_id, auth = client_auth
    small = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"max_upload_bytes": 50_000})
    )
    big = WAV * (1 + 60_000 // len(WAV))
    with TestClient(create_app(small)) as api:
        # Declared length over the limit: refused before the body is read.
        resp = api.post(
            "/v1/jobs",
            headers=auth,
            data={"spec": json.dumps(GOOD_SPEC)},
            files=[("files", ("big.wav", big * 30, "audio/wav"))],
        )
        assert resp.status_code == 413, resp.text
        assert "larger than the limit" in resp.json()["detail"]
        # Just over the limit (within the multipart allowance): refused while streaming.
        resp = api.post(
            "/v1/jobs",
            headers=auth,
            data={"spec": json.dumps(GOOD_SPEC)},
            files=[("files", ("big.wav", big, "audio/wav"))],
        )
        assert resp.status_code == 413, resp.text
        assert "'big.wav' is larger than the limit of 50000 bytes" in resp.json()["detail"]
    assert _object_count(ctx, client_id) == 0


def test_one_bad_file_rejects_the_job_and_removes_the_good_files_already_stored(
    api, ctx, client_auth
):
    client_id, auth = client_auth
    resp = api.post(
        "/v1/jobs",
        headers=auth,
        data={"spec": json.dumps(GOOD_SPEC)},
        files=[
            ("files", ("good.wav", WAV, "audio/wav")),
            ("files", ("bad.wav", b"nope" * 40, "audio/wav")),
        ],
    )
    assert resp.status_code == 415
    assert "'bad.wav'" in resp.json()["detail"]
    assert _object_count(ctx, client_id) == 0


def test_json_job_with_missing_object_is_404(api, client_auth):
    client_id, auth = client_auth
    resp = api.post(
        "/v1/jobs",
        headers=auth,
        json={"spec": GOOD_SPEC, "sources": [{"key": f"clients/{client_id}/uploads/nope"}]},
    )
    assert resp.status_code == 404
    assert "no object" in resp.json()["detail"]


def test_non_utf8_filename_is_read_as_latin1_and_never_used_in_keys(api, ctx, client_auth):
    client_id, auth = client_auth
    body, content_type = _raw_multipart(
        json.dumps(GOOD_SPEC), [(b"caf\xe9 \xe0 la cr\xe8me.wav", WAV)]
    )
    resp = api.post("/v1/jobs", headers={**auth, "content-type": content_type}, content=body)
    assert resp.status_code == 201, resp.text
    assert resp.json()["sources"][0]["filename"] == "café à la crème.wav"
    keys = list(ctx.store.list_keys(f"clients/{client_id}/"))
    assert len(keys) == 1 and keys[0].isascii()


@pytest.mark.parametrize("form", ["multipart", "json"])
@pytest.mark.parametrize(
    ("spec", "message"), [c[1:] for c in SPEC_BOUNDS], ids=[c[0] for c in SPEC_BOUNDS]
)
def test_spec_bounds_hold_in_both_forms(api, ctx, client_auth, form, spec, message):
    client_id, auth = client_auth
    if form == "multipart":
        case = Case("bounds", 422, message, spec=spec)
        resp = _post(api, auth, case)
    else:
        sources = [{"key": f"clients/{client_id}/uploads/a.wav", "filename": "a.wav"}]
        resp = api.post("/v1/jobs", headers=auth, json={"spec": spec, "sources": sources})
    assert resp.status_code == 422, resp.text
    assert message in resp.json()["detail"], resp.text
    assert _object_count(ctx, client_id) == 0


def test_a_spec_past_the_json_body_limit_is_refused_in_both_forms(api, client_auth):
    from engine.api.body_limit import JOB_JSON_BODY_LIMIT

    client_id, auth = client_auth
    labels = [f"label-{i:07d}" for i in range(JOB_JSON_BODY_LIMIT // 14)]  # 17 MB as JSON
    spec = {"kind": "image_boxes", "labels": labels}
    resp = _post(api, auth, Case("huge", 400, "", files=[("p.png", PNG)], spec=spec))
    assert resp.status_code == 400, resp.text
    assert "Part exceeded maximum size of 4096KB" in resp.json()["detail"]
    sources = [{"key": f"clients/{client_id}/uploads/a.png"}]
    resp = api.post("/v1/jobs", headers=auth, json={"spec": spec, "sources": sources})
    assert resp.status_code == 413, resp.text
    assert resp.json()["code"] == "request_too_large"


def test_the_number_of_files_is_bounded_in_both_forms(ctx, client_auth):
    from engine.api.app import create_app

    client_id, auth = client_auth
    two = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"max_files_per_job": 2})
    )
    with TestClient(create_app(two)) as api:
        files = [("files", (f"{i}.wav", WAV, "audio/wav")) for i in range(3)]
        resp = api.post("/v1/jobs", headers=auth, data={"spec": json.dumps(GOOD_SPEC)}, files=files)
        # The multipart parser stops at the third file.
        assert resp.status_code == 400, resp.text
        assert "Too many files. Maximum number of files is 2." in resp.json()["detail"]
        sources = [{"key": f"clients/{client_id}/uploads/{i}.wav"} for i in range(3)]
        resp = api.post("/v1/jobs", headers=auth, json={"spec": GOOD_SPEC, "sources": sources})
        assert resp.status_code == 422, resp.text
        assert "a job takes at most 2 files, got 3" in resp.json()["detail"]
    assert _object_count(ctx, client_id) == 0
