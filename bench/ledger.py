"""The ledger's cost: the worker API with the ledger on and off, and postings when a job is scored.

Two measurements, in one run, printed side by side as ratios:

1. **Worker API.** Two engine sides on PostgreSQL, one after the other, each set up exactly as
   bench/distribution.py does (its own database, 50 workers, a job of ``--tasks`` images,
   paced and saturated phases through ``kazi serve``): *ledger off* is a job without a pay
   rate; *ledger on* is a paid job (KES 5.00 per task, accepted answers) whose client was
   funded with ``kazi ledger topup`` and whose quote was reserved at intake. Targets: paced
   request p99 < 100 ms with the ledger on; saturated answers/s within 10 % of ledger off.
   Earnings are posted when a task's result is final (the scoring transaction), not on
   submit: what the API side measures is what a paid job costs the answer path (intake
   reservation, the extra spec), and part 2 measures the postings themselves.
2. **Scoring.** A job of ``--answers`` answers (``--answers / 2`` image tasks, two workers
   each) is written straight into a fresh PostgreSQL database and scored with the real
   ``score_job`` use case, once without a pay rate and once with one: the difference is the
   ledger's share, and postings per second = journal transactions posted / scoring seconds.
   ``kazi ledger check`` must report zero difference afterwards.

    .venv/bin/python bench/ledger.py [--answers 10000] [--tasks 4000] [--seconds 30] [--json]
    .venv/bin/python bench/ledger.py --scoring-only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

import distribution as dist  # noqa: E402
from psycopg import sql  # noqa: E402

TARGET_P99_MS = 100.0
TARGET_THROUGHPUT_RATIO = 0.90
PAY_SPEC = 'pay_rate: {amount: "5.00", currency: KES, per: task, policy: accepted_only}\n'
TOPUP = "10000000.00"  # KES: more than any bench job can cost


# -- part 1: the worker API ------------------------------------------------------------------


def fund_local_client(env: dict[str, str], db_url: str) -> None:
    """The bench submits as the embedded tenant's client; give it funds to reserve."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from engine.clients.service import ensure_client
    from engine.unit_of_work import SqlAlchemyUnitOfWork

    engine = create_engine(db_url)
    with SqlAlchemyUnitOfWork(sessionmaker(bind=engine)) as uow:
        ensure_client(uow, "local")
        uow.commit()
    engine.dispose()
    out = dist.kazi(env, "ledger", "topup", "--client", "local", "--amount", TOPUP,
                    "--currency", "KES", "--reference", "bench-deposit", "--json")  # fmt: skip
    dist.log(f"ledger on: client funded: {json.loads(out.stdout)['funds']['text']}")


def api_sides(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    order = [("ledger off", "", None), ("ledger on", PAY_SPEC, fund_local_client)]
    if args.on_first:
        order.reverse()
    for name, extra, prepare in order:
        cleanup = dist.Cleanup()
        try:
            rows.extend(
                dist.engine_half(args, cleanup, name=name, spec_extra=extra, before_submit=prepare)
            )
        finally:
            cleanup.run()
    return rows


# -- part 2: scoring a job of many answers ---------------------------------------------------


def _scoring_database(cleanup: dist.Cleanup) -> str:
    db = f"kazi_bench_ledger_{uuid.uuid4().hex[:8]}"
    with dist.admin_connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))

    def drop() -> None:
        with dist.admin_connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
            )

    cleanup.push(f"database {db}", drop)
    return dist.PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db


def _seed_job(sessions: Any, answers: int, paid: bool) -> str:
    """A job in stage scoring with ``answers`` answers on ``answers // 2`` image tasks."""
    from sqlalchemy import insert

    from engine.db.models import AnswerRow, ClientRow, JobRow, SourceMediaRow, TaskRow, WorkerRow

    tasks = answers // 2
    job_id, source_id = str(uuid.uuid4()), str(uuid.uuid4())
    spec: dict[str, Any] = {"kind": "image_classification", "labels": ["cat", "dog"],
                            "overlap": 2, "gold_ratio": 0}  # fmt: skip
    if paid:
        spec["pay_rate"] = {"amount": "5.00", "currency": "KES", "per": "task",
                            "policy": "accepted_only"}  # fmt: skip
    with sessions() as s:
        client_id = str(uuid.uuid4())
        s.execute(insert(ClientRow).values(id=client_id, name=f"bench-{client_id[:8]}"))
        workers = [str(uuid.uuid4()) for _ in range(2)]
        s.execute(insert(WorkerRow), [
            {"id": w, "handle": f"bw-{w[:8]}", "tier": "qualified", "key_prefix": w[:12],
             "key_hash": "x"} for w in workers
        ])  # fmt: skip
        s.execute(insert(JobRow).values(id=job_id, client_id=client_id, kind=spec["kind"],
                                        spec=spec, stage="scoring"))  # fmt: skip
        s.execute(insert(SourceMediaRow).values(
            id=source_id, job_id=job_id, seq=0, filename="images.zip", object_key="x",
            sha256=uuid.uuid4().hex * 2, size_bytes=1, media_type="image",
            content_type="image/png", status="split",
        ))  # fmt: skip
        task_ids = [str(uuid.uuid4()) for _ in range(tasks)]
        s.execute(insert(TaskRow), [
            {"id": t, "job_id": job_id, "source_id": source_id, "seq": i, "kind": "image",
             "object_key": f"t/{i}", "status": "ready"} for i, t in enumerate(task_ids)
        ])  # fmt: skip
        rows = []
        for i, t in enumerate(task_ids):
            for r, w in enumerate(workers):
                # Mostly agreeing workers, as a real job: every 10th task split.
                label = "cat" if (r == 0 or i % 10) else "dog"
                rows.append({"task_id": t, "job_id": job_id, "worker_id": w, "replica": r,
                             "source": "api", "payload": {"label": label}})  # fmt: skip
        s.execute(insert(AnswerRow), rows)
        s.commit()
    return job_id


def _fund(uow_factory: Any, job_id: str) -> None:
    from engine.domain.money import Money
    from engine.ledger.service import topup

    with uow_factory() as uow:
        job = uow.jobs.get(job_id)
        topup(uow, job.client_id, Money("KES", 10**12), f"bench-{job_id}")
        uow.commit()


def scoring(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import sessionmaker

    from engine.db.ledger_models import JournalTransactionRow
    from engine.db.migrate import upgrade_database
    from engine.quality.service import score_job  # the use case the scoring task runs
    from engine.quality.settings import QualitySettings
    from engine.unit_of_work import SqlAlchemyUnitOfWork

    cleanup = dist.Cleanup()
    out: dict[str, Any] = {"answers": args.answers}
    try:
        url = _scoring_database(cleanup)
        upgrade_database(url)
        engine = create_engine(url, pool_size=4)
        cleanup.push("engine pool", engine.dispose)
        sessions = sessionmaker(bind=engine, expire_on_commit=False)

        def uow() -> SqlAlchemyUnitOfWork:
            return SqlAlchemyUnitOfWork(sessions)

        settings = QualitySettings(review_threshold=0.0, review_sample_rate=0.0)
        for side, paid in (("ledger off", False), ("ledger on", True)):
            job_id = _seed_job(sessions, args.answers, paid)
            if paid:
                _fund(uow, job_id)
            with sessions() as s:
                before = s.scalar(select(func.count()).select_from(JournalTransactionRow)) or 0
            t0 = time.perf_counter()
            with uow() as u:
                stage = score_job(u, job_id, settings)
                u.commit()
            seconds = time.perf_counter() - t0
            with sessions() as s:
                after = s.scalar(select(func.count()).select_from(JournalTransactionRow)) or 0
            postings = after - before
            out[side] = {
                "stage": stage.value if stage else None,
                "seconds": round(seconds, 2),
                "postings": postings,
                "postings_per_s": round(postings / seconds, 1) if postings else 0.0,
            }
            dist.log(f"scoring, {side}: {stage} in {seconds:.1f} s, {postings} postings")
        check = subprocess.run(
            [sys.executable, "-m", "engine.cli.main", "ledger", "check", "--json"],
            cwd=REPO_ROOT, env={**os.environ, "KAZI_DATABASE_URL": url,
                                "KAZI_SIGNING_SECRET": "b" * 40, "KAZI_WEBHOOK_SECRET": "c" * 40,
                                "KAZI_DATA_KEY": "d" * 40},
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        out["ledger_check"] = {"exit": check.returncode, "output": check.stdout.strip()[-400:]}
    finally:
        cleanup.run()
    return out


# -- report ----------------------------------------------------------------------------------


def _side(rows: list[dict[str, Any]], side: str, phase: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["side"] == side and r["phase"] == phase), None)


def render(report: dict[str, Any]) -> str:
    lines = []
    rows = report.get("api", [])
    if rows:
        lines.append(f"{'':12} {'phase':>10} {'answers/s':>10} {'req p50':>9} {'req p99':>9} "
                     f"{'answer p99':>11} {'lost':>5} {'dup':>4}")  # fmt: skip
        for r in rows:
            lines.append(
                f"{r['side']:12} {r['phase']:>10} {r['answers_per_s']:>10.1f} "
                f"{r['request_p50_ms']:>7.1f}ms {r['request_p99_ms']:>7.1f}ms "
                f"{r['answer_p99_ms']:>9.1f}ms {r['lost']:>5} {r['duplicates']:>4}"
            )
    scoring_ = report.get("scoring")
    if scoring_:
        lines.append("")
        lines.append(f"scoring a job of {scoring_['answers']} answers:")
        for side in ("ledger off", "ledger on"):
            s = scoring_[side]
            lines.append(f"  {side:10}  {s['seconds']:>7.2f} s   {s['postings']:>6} postings   "
                         f"{s['postings_per_s']:>8.1f} postings/s")  # fmt: skip
        off, on = scoring_["ledger off"]["seconds"], scoring_["ledger on"]["seconds"]
        lines.append(f"  ledger on / off scoring time: {on / off:.2f}x")
        if on > off:
            extra = scoring_["ledger on"]["postings"] / (on - off)
            lines.append(f"  the ledger's own share: {extra:.0f} postings per extra second")
        lines.append(f"  kazi ledger check exit {scoring_['ledger_check']['exit']}: "
                     f"{scoring_['ledger_check']['output'][:200]}")  # fmt: skip
    lines.append("")
    for t in report.get("targets", []):
        lines.append(f"{'PASS' if t['ok'] else 'FAIL'}  {t['what']}: {t['value']}")
    return "\n".join(lines)


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    rows = report.get("api", [])
    paced_on = _side(rows, "ledger on", "paced")
    sat_on, sat_off = _side(rows, "ledger on", "saturated"), _side(rows, "ledger off", "saturated")
    if paced_on:
        p99 = paced_on["request_p99_ms"]
        out.append({"what": "ledger on: paced request p99 < 100 ms", "ok": p99 < TARGET_P99_MS,
                    "value": f"{p99:.1f} ms"})  # fmt: skip
    if sat_on and sat_off:
        ratio = sat_on["answers_per_s"] / sat_off["answers_per_s"]
        out.append({"what": "ledger on / off saturated answers/s >= 0.90",
                    "ok": ratio >= TARGET_THROUGHPUT_RATIO, "value": f"{ratio:.2f}x"})  # fmt: skip
    if rows:
        bad = sum(r["lost"] + r["duplicates"] for r in rows)
        out.append({"what": "zero lost or duplicated answers", "ok": bad == 0, "value": bad})
    scoring_ = report.get("scoring")
    if scoring_:
        out.append({"what": "kazi ledger check clean after scoring",
                    "ok": scoring_["ledger_check"]["exit"] == 0,
                    "value": f"exit {scoring_['ledger_check']['exit']}"})  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--think-ms", type=float, default=1000.0)
    parser.add_argument("--phases", default="paced,saturated")
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=4000, help="images per API side's job")
    parser.add_argument("--serve-processes", type=int, default=2)
    parser.add_argument("--tier", default="qualified")
    parser.add_argument("--no-analyze", dest="analyze", action="store_false")
    parser.add_argument("--answers", type=int, default=10_000, help="answers of the scored job")
    parser.add_argument("--scoring-only", action="store_true")
    parser.add_argument("--api-only", action="store_true")
    parser.add_argument("--on-first", action="store_true", help="run the ledger-on side first")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    report: dict[str, Any] = {"args": vars(args)}
    if not args.scoring_only:
        report["api"] = api_sides(args)
    if not args.api_only:
        report["scoring"] = scoring(args)
    report["targets"] = targets(report)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if all(t["ok"] for t in report["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
