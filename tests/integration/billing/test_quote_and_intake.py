"""The quote route and the reservation at intake, on PostgreSQL through the API: a paid job
reserves exactly its quote, a client short of funds gets a 402 and nothing is kept, and a job
without a pay rate is accepted as before."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.conftest import make_client
from tests.media_samples import png_bytes, speech_wav_bytes

PAID_IMAGES = {
    "kind": "image_classification",
    "labels": ["cat", "dog"],
    "overlap": 2,
    "gold_ratio": 0,
    "pay_rate": {"amount": "10.00", "currency": "KES", "review_amount": "2.00"},
}
IMAGE_MEDIA = [{"filename": f"{i}.png", "width": 40, "height": 30} for i in range(3)]


def _topup(ctx, client_id: str, minor: int) -> None:  # type: ignore[no-untyped-def]
    from engine.domain.money import Money
    from engine.ledger.service import topup

    ctx.in_unit_of_work(topup, client_id, Money("KES", minor), f"test-{uuid.uuid4().hex[:8]}")


def _balances(ctx, owner: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with ctx.uow() as uow:
        return {ref.kind.value: b for ref, b in uow.ledger.balances_of(owner).items()}


def test_a_quote_lists_its_lines_and_assumptions(api, client_auth) -> None:  # type: ignore[no-untyped-def]
    _, headers = client_auth
    response = api.post(
        "/v1/jobs/quote", headers=headers, json={"spec": PAID_IMAGES, "media": IMAGE_MEDIA}
    )
    assert response.status_code == 200, response.text
    quote = response.json()
    assert [line["code"] for line in quote["lines"]] == [
        "answers", "reviews", "gold", "platform_fee"
    ]  # fmt: skip
    assert sum(line["amount"]["minor"] for line in quote["lines"]) == quote["total"]["minor"]
    answers = quote["lines"][0]
    assert answers["quantity"] == 6 and answers["amount"]["minor"] == 6000
    assert quote["total"]["currency"] == "KES" and isinstance(quote["total"]["minor"], int)
    assert quote["total"]["text"].startswith("KES ")
    assert quote["assumptions"] and quote["counts"]["tasks"] == 3


def test_an_audio_quote_from_durations(api, client_auth) -> None:  # type: ignore[no-untyped-def]
    _, headers = client_auth
    spec = {
        "kind": "transcription", "overlap": 3,
        "pay_rate": {"amount": "6.00", "currency": "KES", "per": "audio_minute"},
    }  # fmt: skip
    response = api.post(
        "/v1/jobs/quote", headers=headers,
        json={"spec": spec, "media": [{"filename": "a.flac", "duration_ms": 120_000}]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["tasks"] == 10


@pytest.mark.parametrize(
    ("name", "body", "content_type", "status"),
    [
        ("no media", {"spec": PAID_IMAGES, "media": []}, "application/json", 422),
        ("no pay rate", {"spec": {"kind": "image_classification", "labels": ["a", "b"]},
                         "media": IMAGE_MEDIA}, "application/json", 422),
        ("box rate on a classification job",
         {"spec": {**PAID_IMAGES, "pay_rate": {"amount": "1", "currency": "KES", "per": "box"}},
          "media": IMAGE_MEDIA}, "application/json", 422),
        ("a float duration", {"spec": {"kind": "transcription",
                                        "pay_rate": {"amount": "1", "currency": "KES"}},
                               "media": [{"filename": "a.wav", "duration_ms": 1.5}]},
         "application/json", 422),
        ("an image with a duration", {"spec": PAID_IMAGES,
                                      "media": [{"filename": "a.png", "duration_ms": 10}]},
         "application/json", 422),
        ("width without height", {"spec": PAID_IMAGES,
                                  "media": [{"filename": "a.png", "width": 10}]},
         "application/json", 422),
        ("audio without a duration", {"spec": {"kind": "transcription",
                                               "pay_rate": {"amount": "1", "currency": "KES"}},
                                      "media": [{"filename": "a.wav"}]}, "application/json", 422),
        ("a negative duration", {"spec": {"kind": "transcription",
                                          "pay_rate": {"amount": "1", "currency": "KES"}},
                                 "media": [{"filename": "a.wav", "duration_ms": -5}]},
         "application/json", 422),
        ("more decimals than the currency", {"spec": {**PAID_IMAGES, "pay_rate": {
            "amount": "1.005", "currency": "KES"}}, "media": IMAGE_MEDIA}, "application/json", 422),
        ("an unknown field", {"spec": PAID_IMAGES, "media": IMAGE_MEDIA, "discount": 1},
         "application/json", 422),
        ("a control character in a name", {"spec": PAID_IMAGES,
                                           "media": [{"filename": "a\x01.png"}]},
         "application/json", 422),
        ("form data", "spec=x", "application/x-www-form-urlencoded", 415),
        ("plain text", "hello", "text/plain", 415),
        ("not JSON", "{nope", "application/json", 422),
        ("empty", "", "application/json", 422),
        # Over the 4 MiB JSON limit of intake and quote (a spec with its gold texts).
        ("too large", {"spec": PAID_IMAGES, "media": [
            {"filename": f"{'x' * 1000}{i}.png"} for i in range(5000)]}, "application/json", 413),
    ],
)  # fmt: skip
def test_bad_quotes(api, client_auth, name: str, body: Any, content_type: str, status: int) -> None:  # type: ignore[no-untyped-def]
    _, headers = client_auth
    content = body if isinstance(body, str) else json.dumps(body)
    response = api.post(
        "/v1/jobs/quote", headers={**headers, "Content-Type": content_type}, content=content
    )
    assert response.status_code == status, (name, response.text)
    assert response.json()["code"] and response.json()["detail"]


def test_a_quote_needs_a_client_key_before_anything_else(api) -> None:  # type: ignore[no-untyped-def]
    for headers, content in [({}, "{nope"), ({"Authorization": "Bearer kazi_x_y"}, "x" * 100_000)]:
        response = api.post(
            "/v1/jobs/quote", headers={**headers, "Content-Type": "application/json"},
            content=content,
        )  # fmt: skip
        assert response.status_code == 401, response.text


def _submit(api, headers, spec, files):  # type: ignore[no-untyped-def]
    return api.post(
        "/v1/jobs", headers=headers,
        data={"spec": json.dumps(spec)},
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
    )  # fmt: skip


PNGS = [(f"{i}.png", png_bytes(40, 30)) for i in range(3)]


def test_a_paid_job_reserves_exactly_its_quote(api, ctx) -> None:  # type: ignore[no-untyped-def]
    client_id, headers = make_client(ctx)
    _topup(ctx, client_id, 100_000)
    quote = api.post(
        "/v1/jobs/quote", headers=headers, json={"spec": PAID_IMAGES, "media": IMAGE_MEDIA}
    ).json()
    response = _submit(api, headers, PAID_IMAGES, [(n, png_bytes(40 + i, 30)) for i, (n, _)
                                                    in enumerate(PNGS)])  # fmt: skip
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    assert _balances(ctx, job_id) == {"client_reserved": quote["total"]["minor"]}
    assert _balances(ctx, client_id) == {"client_funds": 100_000 - quote["total"]["minor"]}
    with ctx.uow() as uow:
        posted = uow.ledger.entry(f"reserve:job:{job_id}")
        row = uow.billing.get(job_id)
        assert posted is not None and row is not None
        assert row.quoted_minor == quote["total"]["minor"]
        assert uow.ledger.check().clean


def test_an_audio_job_is_priced_from_its_measured_duration(api, ctx) -> None:  # type: ignore[no-untyped-def]
    from engine.billing.media_measure import audio_duration_ms

    client_id, headers = make_client(ctx)
    _topup(ctx, client_id, 1_000_000)
    spec = {"kind": "transcription", "gold_ratio": 0,
            "pay_rate": {"amount": "6.00", "currency": "KES", "per": "audio_minute"}}  # fmt: skip
    wav = speech_wav_bytes()
    response = _submit(api, headers, spec, [("a.wav", wav)])
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    with ctx.uow() as uow:
        source = uow.jobs.sources(job_id)[0]
        duration_ms = audio_duration_ms(ctx.store.path_for(source.object_key))
    quote = api.post(
        "/v1/jobs/quote", headers=headers,
        json={"spec": spec, "media": [{"filename": "a.wav", "duration_ms": duration_ms}]},
    ).json()  # fmt: skip
    assert 1000 < duration_ms < 60_000
    assert _balances(ctx, job_id) == {"client_reserved": quote["total"]["minor"]}


def test_a_client_short_of_funds_gets_402_and_nothing_is_kept(api, ctx) -> None:  # type: ignore[no-untyped-def]
    client_id, headers = make_client(ctx)
    _topup(ctx, client_id, 500)
    response = _submit(api, headers, PAID_IMAGES, PNGS)
    assert response.status_code == 402, response.text
    body = response.json()
    assert body["code"] == "insufficient_funds"
    assert "short by KES" in body["detail"] and "quoted at KES" in body["detail"]
    assert api.get("/v1/jobs", headers=headers).json()["total"] == 0
    assert _balances(ctx, client_id) == {"client_funds": 500}
    assert not list(ctx.store.list_keys(f"clients/{client_id}/"))


def test_a_job_without_a_pay_rate_needs_no_funds(api, ctx) -> None:  # type: ignore[no-untyped-def]
    client_id, headers = make_client(ctx)
    spec = {k: v for k, v in PAID_IMAGES.items() if k != "pay_rate"}
    response = _submit(api, headers, spec, PNGS)
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    assert _balances(ctx, job_id) == {} and _balances(ctx, client_id) == {}
    with ctx.uow() as uow:
        assert uow.billing.get(job_id) is None
