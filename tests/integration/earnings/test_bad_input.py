"""Bad input on the pay routes and in a job's pay rate: a clear 4xx each, never a 5xx, and the
key is checked before the body (no key: 401 whatever the body)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest

from tests.media_samples import speech_wav_bytes


@dataclasses.dataclass
class Case:
    name: str
    method: str
    path: str
    status: int
    body: Any = None
    raw: bytes | None = None
    who: str = "worker"  # worker | reviewer | nobody


BIG_ID = 2**31
CASES = [
    Case("earnings limit 0", "GET", "/v1/work/earnings?limit=0", 422),
    Case("earnings limit too big", "GET", "/v1/work/earnings?limit=501", 422),
    Case("earnings limit not a number", "GET", "/v1/work/earnings?limit=ten", 422),
    Case("earnings without a key", "GET", "/v1/work/earnings", 401, who="nobody"),
    Case("dispute id not a number", "POST", "/v1/work/answers/abc/dispute", 422, body={}),
    Case("dispute id zero", "POST", "/v1/work/answers/0/dispute", 422, body={}),
    Case("dispute id negative", "POST", "/v1/work/answers/-3/dispute", 422, body={}),
    Case("dispute id past 32 bits", "POST", f"/v1/work/answers/{BIG_ID}/dispute", 422, body={}),
    Case("dispute body not JSON", "POST", "/v1/work/answers/1/dispute", 422, raw=b"{reason"),
    Case("dispute reason not text", "POST", "/v1/work/answers/1/dispute", 422,
         body={"reason": 5}),
    Case("dispute unknown field", "POST", "/v1/work/answers/1/dispute", 422,
         body={"reason": "x", "amount": "100.00"}),
    Case("dispute reason too long", "POST", "/v1/work/answers/1/dispute", 422,
         body={"reason": "x" * 2001}),
    Case("dispute reason with control characters", "POST", "/v1/work/answers/1/dispute", 422,
         body={"reason": "bad\x07bell"}),
    Case("dispute of no such answer", "POST", f"/v1/work/answers/{BIG_ID - 1}/dispute", 404,
         body={}),
    Case("dispute without a key, bad body", "POST", "/v1/work/answers/1/dispute", 401,
         raw=b"{reason", who="nobody"),
    Case("decide without a body", "POST", "/v1/review/disputes/1/decide", 422, who="reviewer"),
    Case("decide unknown decision", "POST", "/v1/review/disputes/1/decide", 422,
         body={"decision": "maybe"}, who="reviewer"),
    Case("decide extra field", "POST", "/v1/review/disputes/1/decide", 422,
         body={"decision": "overturn", "amount": 5}, who="reviewer"),
    Case("decide id not a number", "POST", "/v1/review/disputes/x/decide", 422,
         body={"decision": "uphold"}, who="reviewer"),
    Case("decide no such dispute", "POST", f"/v1/review/disputes/{BIG_ID - 1}/decide", 404,
         body={"decision": "uphold"}, who="reviewer"),
    Case("decide by a worker", "POST", f"/v1/review/disputes/{BIG_ID - 1}/decide", 403,
         body={"decision": "uphold"}),
    Case("disputes limit 0", "GET", "/v1/review/disputes?limit=0", 422, who="reviewer"),
    Case("disputes by a worker", "GET", "/v1/review/disputes", 403),
]  # fmt: skip


@pytest.fixture(scope="module")
def keys(ctx) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    out: dict[str, dict[str, str]] = {"nobody": {}}
    for who, tier in (("worker", "qualified"), ("reviewer", "reviewer")):
        w = ctx.in_unit_of_work(register_worker, f"bad-{uuid.uuid4().hex[:10]}", tier)
        out[who] = {"Authorization": f"Bearer {w.api_key}"}
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_pay_routes_refuse_bad_input(api, keys, case: Case) -> None:  # type: ignore[no-untyped-def]
    headers = dict(keys[case.who])
    kwargs: dict[str, Any] = {}
    if case.raw is not None:
        kwargs["content"] = case.raw
        headers["Content-Type"] = "application/json"
    elif case.body is not None:
        kwargs["json"] = case.body
    resp = api.request(case.method, case.path, headers=headers, **kwargs)
    assert resp.status_code == case.status, resp.text
    assert resp.json().get("detail") or resp.json().get("message")


PAY_RATES = [
    ("more decimals than KES has", {"amount": "1.005", "currency": "KES"}, "more decimals"),
    ("a fraction of a shilling as a number", {"amount": 0.125, "currency": "KES"}, "decimals"),
    ("UGX has no minor unit", {"amount": "10.5", "currency": "UGX"}, "UGX"),
    ("JOD has three decimals", {"amount": "1.0005", "currency": "JOD"}, "JOD"),
    ("negative amount", {"amount": "-1.00", "currency": "KES"}, "greater than or equal"),
    ("not an ISO 4217 code", {"amount": "1.00", "currency": "XYZ"}, "ISO 4217"),
    ("lower-case code", {"amount": "1.00", "currency": "kes"}, "pattern"),
    ("amount not a number", {"amount": "ten", "currency": "KES"}, "decimal"),
    ("unknown unit", {"amount": "1.00", "currency": "KES", "per": "hour"}, "per"),
    ("unknown policy", {"amount": "1.00", "currency": "KES", "policy": "best_effort"}, "policy"),
    ("review amount too precise", {"amount": "1", "currency": "KES", "review_amount": "0.001"},
     "review_amount"),
    ("negative training amount", {"amount": "1", "currency": "KES", "training_amount": "-2"},
     "training_amount"),
    ("unknown field", {"amount": "1", "currency": "KES", "bonus": "5"}, "bonus"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "pay_rate", "message"), PAY_RATES, ids=[p[0] for p in PAY_RATES])
def test_a_pay_rate_the_currency_cannot_pay_is_refused_at_intake(  # type: ignore[no-untyped-def]
    api, client_auth, name, pay_rate, message
) -> None:
    _, auth = client_auth
    spec = {"kind": "transcription", "pay_rate": pay_rate}
    resp = api.post("/v1/jobs", headers=auth, data={"spec": json.dumps(spec)},
                    files=[("files", ("a.wav", speech_wav_bytes(), "audio/wav"))])  # fmt: skip
    assert resp.status_code == 422, resp.text
    assert message in resp.text
