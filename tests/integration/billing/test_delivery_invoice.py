"""A paid job run to delivery on PostgreSQL: the delivery transaction posts the fee and settles
the reservation, invoice.json/.html sit beside the other deliverables, the invoice equals the
ledger's charge, and the quality report shows the cost per item."""

from __future__ import annotations

import io
import json
import uuid

from tests.conftest import make_client, manual_uow
from tests.media_samples import png_bytes

SPEC = {
    "kind": "image_classification",
    "labels": ["cat", "dog"],
    "overlap": 2,
    "gold_ratio": 0,
    "pay_rate": {"amount": "10.00", "currency": "KES"},
}


def _worker(ctx) -> str:  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    return ctx.in_unit_of_work(register_worker, f"b-{uuid.uuid4().hex[:10]}", "qualified").id


def _answer_all(ctx, worker_id: str, job_id: str) -> int:  # type: ignore[no-untyped-def]
    from engine.work.service import DistributionSettings, lease_next, submit

    done = 0
    while True:
        with manual_uow(ctx) as uow:
            lease = lease_next(uow, worker_id, DistributionSettings(), job_id=job_id)
            if lease is None:
                return done
            submit(uow, worker_id, lease.lease_id, {"label": "cat"},
                   client_answer_id=str(uuid.uuid4()), time_spent_seconds=4.0)  # fmt: skip
            uow.commit()
        done += 1


def _paid_job(ctx, funds_minor: int, workers: list[str] | None = None) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    from engine.domain.money import Money
    from engine.jobs.intake import IncomingFile, submit_job
    from engine.ledger.service import topup
    from engine.publishing.service import begin_publishing, finish_publishing
    from engine.splitting.service import split_job
    from schemas.jobs import JobSpec

    client_id, _ = make_client(ctx)
    ctx.in_unit_of_work(topup, client_id, Money("KES", funds_minor), "deposit")
    files = [(f"{i}.png", png_bytes(40 + i, 30)) for i in range(3)]
    job_id = submit_job(
        manual_uow(ctx), ctx.store, client_id=client_id, spec=JobSpec.model_validate(SPEC),
        files=[IncomingFile(n, io.BytesIO(b)) for n, b in files],
        max_upload_bytes=10**8, max_files=10,
    )  # fmt: skip
    assert split_job(manual_uow(ctx), ctx.store, job_id, ctx.tiling).value == "split"  # type: ignore[union-attr]
    assert begin_publishing(manual_uow(ctx), job_id) is not None
    finish_publishing(manual_uow(ctx), job_id, [])
    for worker_id in workers or [_worker(ctx), _worker(ctx)]:
        assert _answer_all(ctx, worker_id, job_id) == 3
    return client_id, job_id


def _score_and_deliver(ctx, job_id: str) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    from engine.assembly.service import assemble_job
    from engine.quality.service import QualitySettings, score_job

    with manual_uow(ctx) as uow:
        stage = score_job(
            uow, job_id, QualitySettings(review_threshold=0.0, review_sample_rate=0.0)
        )
        uow.commit()
    assert stage is not None and stage.value == "assembling", stage
    assert assemble_job(manual_uow(ctx), ctx.store, job_id).value == "delivered"  # type: ignore[union-attr]
    with ctx.uow() as uow:
        rows = {r.name: (r.kind, r.object_key) for r in uow.assembly.deliverables(job_id)}
    assert rows["invoice.json"][0] == "invoice"
    return {name: ctx.store.get_bytes(key) for name, (_, key) in rows.items()}


def _extra_earning(ctx, job_id: str, minor: int) -> None:  # type: ignore[no-untyped-def]
    """An earning the test itself posts, so the job costs something whatever the scoring
    stage's earning rules pay."""
    from engine.billing.service import job_reservation
    from engine.domain.ledger import AccountKind, AccountRef, TransactionKind, Transfer, entry
    from engine.ledger.service import post

    worker = AccountRef(AccountKind.WORKER_PENDING, _worker(ctx), "KES")
    ctx.in_unit_of_work(
        post,
        entry(f"earn:answer:test-{uuid.uuid4().hex[:8]}", TransactionKind.EARN,
              Transfer(job_reservation(job_id, "KES"), worker, minor)),
    )  # fmt: skip


def test_delivery_settles_and_the_invoice_equals_the_ledger(ctx) -> None:  # type: ignore[no-untyped-def]
    from engine.billing.service import client_funds, job_reservation
    from engine.domain.ledger import platform_fees

    client_id, job_id = _paid_job(ctx, 1_000_000)
    _extra_earning(ctx, job_id, 1234)
    with ctx.uow() as uow:
        fees_before = uow.ledger.balance(platform_fees("KES"))
    files = _score_and_deliver(ctx, job_id)
    invoice = json.loads(files["invoice.json"])
    with ctx.uow() as uow:
        funds = uow.ledger.balance(client_funds(client_id, "KES"))
        reserved = uow.ledger.balance(job_reservation(job_id, "KES"))
        fee_entry = uow.ledger.entry(f"fee:job:{job_id}")
        settle_entry = uow.ledger.entry(f"settle:job:{job_id}")
        fees_after = uow.ledger.balance(platform_fees("KES"))
        report = uow.ledger.check()
    assert reserved == 0
    assert fee_entry is not None and settle_entry is not None
    # What the client's funds gave up is the invoice's subtotal, to the minor unit.
    assert 1_000_000 - funds == invoice["subtotal"]["minor"]
    fee_line = next(x for x in invoice["lines"] if x["code"] == "platform_fee")
    assert fees_after - fees_before == fee_line["amount"]["minor"]
    assert sum(x["amount"]["minor"] for x in invoice["lines"]) == invoice["subtotal"]["minor"]
    assert invoice["subtotal"]["minor"] >= 1234
    assert invoice["job"]["id"] == job_id and invoice["client"]["id"] == client_id
    assert invoice["total"] == invoice["subtotal"] and invoice["amount_due"]["minor"] == 0
    assert report.clean, report.differences
    assert b"Invoice" in files["invoice.html"]
    cost = json.loads(files["report.json"])["cost"]
    assert cost["charged"]["minor"] == invoice["subtotal"]["minor"]
    assert cost["items"] == 3 and cost["per_item"]["currency"] == "KES"
    assert b"<h2>Cost</h2>" in files["report.html"]


def test_taxes_from_the_environment_are_on_the_invoice(ctx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KAZI_TAX_RATES", "VAT:1600")
    _, job_id = _paid_job(ctx, 1_000_000)
    _extra_earning(ctx, job_id, 10_000)
    invoice = json.loads(_score_and_deliver(ctx, job_id)["invoice.json"])
    [vat] = invoice["taxes"]
    assert vat["name"] == "VAT" and vat["rate_bps"] == 1600
    subtotal = invoice["subtotal"]["minor"]
    assert vat["amount"]["minor"] == (subtotal * 1600 + 5000) // 10_000
    assert invoice["total"]["minor"] == subtotal + vat["amount"]["minor"]


def test_a_job_without_a_pay_rate_delivers_without_an_invoice(ctx) -> None:  # type: ignore[no-untyped-def]
    from engine.assembly.service import assemble_job
    from engine.jobs.intake import IncomingFile, submit_job
    from engine.publishing.service import begin_publishing, finish_publishing
    from engine.quality.service import QualitySettings, score_job
    from engine.splitting.service import split_job
    from schemas.jobs import JobSpec

    client_id, _ = make_client(ctx)
    spec = JobSpec.model_validate({k: v for k, v in SPEC.items() if k != "pay_rate"})
    job_id = submit_job(
        manual_uow(ctx), ctx.store, client_id=client_id, spec=spec,
        files=[IncomingFile("a.png", io.BytesIO(png_bytes(40, 30)))],
        max_upload_bytes=10**8, max_files=10,
    )  # fmt: skip
    split_job(manual_uow(ctx), ctx.store, job_id, ctx.tiling)
    begin_publishing(manual_uow(ctx), job_id)
    finish_publishing(manual_uow(ctx), job_id, [])
    for _ in range(2):
        _answer_all(ctx, _worker(ctx), job_id)
    with manual_uow(ctx) as uow:
        score_job(uow, job_id, QualitySettings(review_threshold=0.0, review_sample_rate=0.0))
        uow.commit()
    assert assemble_job(manual_uow(ctx), ctx.store, job_id).value == "delivered"  # type: ignore[union-attr]
    with ctx.uow() as uow:
        names = {r.name for r in uow.assembly.deliverables(job_id)}
        assert uow.ledger.balances_of(job_id) == {}
    assert "invoice.json" not in names and "report.json" in names
