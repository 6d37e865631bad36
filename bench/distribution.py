"""Benchmark: handing out work through the engine's worker API against Label Studio's own API.

N simulated workers (default 50) each run a closed loop: lease the next task, work on it for a
think time, submit an answer, lease the next. The same number of workers does the same through
each side, one side after the other in the same run, each on PostgreSQL, in two phases:

* paced: each worker spends ``--think-ms`` (default 1000 ms, uniform 0.5x..1.5x) on a task, so
  50 workers offer about 50 answers/s, still ten times faster than people transcribe or label.
  The latency targets are judged here: a server that keeps up answers in milliseconds.
* saturated: no think time, every worker sends its next request the moment the last one is
  answered. This measures throughput (answers/s), and the ratio target is judged here. Its
  latencies are printed too, but in a closed loop at full load they are workers / throughput
  (Little's law) and say nothing about the server beyond its throughput.

The two sides:

* engine: ``kazi serve`` (uvicorn, one process per core) on a fresh database; one
  image-classification job of small generated PNGs, submitted with ``kazi submit --wait`` and
  a Celery worker that is stopped once the job is open for work (stage ``labeling``); workers
  registered with ``kazi workers add``; each loop is ``POST /v1/work/next`` then
  ``POST /v1/work/{lease}/submit``.
  After the load, a few workers resend their last submit (must replay) and submit a new answer
  id on that spent lease (must be refused).
* Label Studio: a throwaway ``label-studio start`` (Django's threaded server, as
  ``engine.labeling.label_studio_server`` runs it) on a database copied from the migrated
  template; one Image + Choices project with ``maximum_annotations`` = overlap; workers sign up
  through the invite link (each with its own legacy token); each loop is
  ``GET /api/projects/{id}/next`` then ``POST /api/tasks/{id}/annotations/``.

Both sides use the same client: one thread and one keep-alive ``httpx.Client`` (TCP_NODELAY)
per worker.
A warm-up (default 3 s) is not measured; then for ``--seconds`` every answer whose submit
completes in the window counts, in each phase. Latency per answer is next + submit round trips
(think time excluded); per request is each call alone. After each side the answers of all its
phases are counted in its database: *lost* = acknowledged (201) answers that are not stored;
*duplicates* = answers beyond the overlap on a task plus a second answer by the same worker on
a task; stored answers that were never acknowledged are reported as *unacked*.

Before each side's load its database is ANALYZEd (as autovacuum would have done a minute after
the tasks were loaded; ``--no-analyze`` measures the cold-statistics case instead).

The client, both servers and PostgreSQL share this machine's cores (two on the dev machine,
with other work running), so the figures are for one small box, not a deployment; the output
shows how busy the cores were during each window, and how many PostgreSQL connections and
transactions each answer cost.

    .venv/bin/python bench/distribution.py [--workers 50] [--seconds 30] [--warmup 3]
        [--think-ms 1000] [--phases paced,saturated] [--engine-only | --ls-only]
        [--tasks 5000] [--ls-tasks 1000] [--overlap 2] [--tier qualified]
        [--serve-processes 2] [--no-analyze] [--json]

Everything it starts (servers, Celery worker, databases, temp dirs, Redis keys) is removed at
the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

PG_ADMIN_URL = os.environ.get(
    "KAZI_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("KAZI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LABELS = ("cat", "dog")
LS_CONFIG = REPO_ROOT / "configs" / "labeling" / "image_classification.xml"
TARGET_RATIO = 5.0
TARGET_P99_MS = 100.0
NEXT_KEYS = {"lease_id", "task_id", "job_id", "kind", "expires_at", "media_url", "draft", "labels"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def admin_connect() -> psycopg.Connection[Any]:
    return psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True)


# -- cleanup ---------------------------------------------------------------------------------


class Cleanup:
    """Undo steps run last-in first-out, whatever happens (exceptions, Ctrl-C, SIGTERM)."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], None]]] = []

    def push(self, what: str, step: Callable[[], None]) -> None:
        self._steps.append((what, step))

    def run(self) -> None:
        # A second Ctrl-C must not leave a server or a database behind.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._run()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _run(self) -> None:
        while self._steps:
            what, step = self._steps.pop()
            try:
                step()
            except BaseException as exc:  # noqa: BLE001 - keep cleaning up
                log(f"cleanup of {what} failed: {exc!r}")


def _sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# -- CPU accounting (/proc) ------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> tuple[int, str, float]:
    """(session id, command, CPU seconds) of one process, with its reaped children's: a
    PostgreSQL backend that lived only for one request is counted in the postmaster."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2 :].split()
    return int(rest[3]), comm, sum(int(x) for x in rest[11:15]) / _TICK


def cpu_by_group(server_sid: int | None) -> dict[str, float]:
    """CPU seconds so far of the server's process session and of all PostgreSQL processes."""
    out = {"server": 0.0, "postgres": 0.0}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            sid, comm, seconds = _proc_cpu(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
        if server_sid is not None and sid == server_sid:
            out["server"] += seconds
        elif comm == "postgres":
            out["postgres"] += seconds
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies over all cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


def db_counters(database: str) -> dict[str, int]:
    """Sessions opened and transactions run on ``database`` so far (``pg_stat_database``)."""
    with admin_connect() as conn:
        row = conn.execute(
            "SELECT sessions, xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
    return {"sessions": int(row[0]), "transactions": int(row[1])} if row else {}


@dataclass
class CpuMeter:
    """What the measured window cost: CPU of this client process, of the server's process
    session and of all PostgreSQL processes (other databases included; the machine is
    shared), and the PostgreSQL sessions opened and transactions run on the side's database."""

    server_sid: int | None
    database: str | None = None
    start: dict[str, float] = field(default_factory=dict)
    usage: dict[str, float] = field(default_factory=dict)

    def begin(self) -> None:
        self._wall = time.perf_counter()
        self._client = time.process_time()
        self._busy = machine_busy()
        self.start = cpu_by_group(self.server_sid)
        self._db = db_counters(self.database) if self.database else {}

    def end(self) -> None:
        wall = time.perf_counter() - self._wall
        client = time.process_time() - self._client
        busy, total = machine_busy()
        now = cpu_by_group(self.server_sid)
        cores = os.cpu_count() or 1
        self.usage = {
            "cores": cores,
            "client_cores": client / wall,
            "server_cores": (now["server"] - self.start["server"]) / wall,
            "postgres_cores": (now["postgres"] - self.start["postgres"]) / wall,
            "machine_busy_fraction": (busy - self._busy[0]) / max(1, total - self._busy[1]),
            "load_average_1m": os.getloadavg()[0],
        }
        if self.database:
            time.sleep(1.1)  # backends flush their statistics about once a second
            db = db_counters(self.database)
            for key in ("sessions", "transactions"):
                self.usage[f"pg_{key}"] = db.get(key, 0) - self._db.get(key, 0)


# -- the closed-loop load ------------------------------------------------------------------


class NoWork(Exception):
    """The server has nothing left for this worker."""


@dataclass
class Sample:
    """Unexpected responses, kept for the report (first few of each kind)."""

    items: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, key: str, text: str) -> None:
        self.counts[key] += 1
        if self.counts[key] <= 3:
            self.items.append(f"{key}: {text[:300]}")


@dataclass
class WorkerResult:
    # One per answer finished inside the window: (done at s into the window, answer ms,
    # next ms, submit ms).
    samples: list[tuple[float, float, float, float]] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)  # answer ids the server acknowledged
    # The last accepted submit: (lease id, request body, answer id), to replay after the run.
    last_submit: tuple[str, dict[str, Any], int] | None = None
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    no_work_at: float | None = None


class Side:
    """One system under test: how a worker gets a task and answers it."""

    name = ""

    def client(self, index: int) -> httpx.Client:
        raise NotImplementedError

    def next_task(self, http: httpx.Client, res: WorkerResult, bad: Sample) -> dict[str, Any]:
        raise NotImplementedError

    def submit(
        self,
        http: httpx.Client,
        task: dict[str, Any],
        res: WorkerResult,
        bad: Sample,
        spent: float,
    ) -> None:
        raise NotImplementedError


@dataclass
class LoadResult:
    workers: int
    window_s: float
    results: list[WorkerResult]
    bad: Sample
    cpu: dict[str, float]
    ran_out_at_s: float | None
    client_model: str = "one thread + one keep-alive httpx.Client per worker"

    def samples(self) -> list[tuple[float, float, float, float]]:
        return [x for r in self.results for x in r.samples if x[0] <= self.window_s]

    @property
    def answers(self) -> int:
        return len(self.samples())


def worker_http(base_url: str, authorization: str) -> httpx.Client:
    """One simulated worker's keep-alive client. TCP_NODELAY: httpx writes a request's headers
    and body separately, and with Nagle's algorithm the body then waits for the server's
    delayed ACK, about 40 ms on every POST (any client that keeps connections open needs it)."""
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": authorization},
        timeout=60,
        transport=httpx.HTTPTransport(socket_options=nodelay),
    )


def run_load(
    side: Side, workers: int, warmup: float, seconds: float, think_ms: float, cpu: CpuMeter
) -> LoadResult:
    stop = threading.Event()
    bad = Sample()
    results = [WorkerResult() for _ in range(workers)]
    clients = [side.client(i) for i in range(workers)]
    barrier = threading.Barrier(workers + 1)
    clock: dict[str, float] = {}

    def loop(index: int) -> None:
        http, res = clients[index], results[index]
        rng = random.Random(index)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return
        start, end = clock["start"], clock["end"]
        while not stop.is_set():
            t0 = time.perf_counter()
            if t0 >= end:
                break
            try:
                task = side.next_task(http, res, bad)
                t1 = time.perf_counter()
                spent = think_ms / 1000 * rng.uniform(0.5, 1.5) if think_ms > 0 else 0.0
                if spent:
                    time.sleep(spent)  # doing the task, lease held (always submitted after)
                t2 = time.perf_counter()
                side.submit(http, task, res, bad, spent)
                t3 = time.perf_counter()
            except NoWork:
                res.no_work_at = time.perf_counter()
                break
            except httpx.HTTPError as exc:
                res.errors += 1
                bad.add(f"transport {type(exc).__name__}", str(exc))
                stop.wait(0.05)
                continue
            if start <= t3 <= end:
                next_ms, submit_ms = (t1 - t0) * 1000, (t3 - t2) * 1000
                res.samples.append((t3 - start, next_ms + submit_ms, next_ms, submit_ms))

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(workers)]
    for t in threads:
        t.start()
    try:
        now = time.perf_counter()
        clock["start"] = now + warmup
        clock["end"] = now + warmup + seconds
        barrier.wait()
        time.sleep(max(0.0, clock["start"] - time.perf_counter()))
        cpu.begin()  # CPU is measured over the window only
        while any(t.is_alive() for t in threads):
            if time.perf_counter() >= clock["end"] and not cpu.usage:
                cpu.end()
            time.sleep(0.05)
        if not cpu.usage:
            cpu.end()
    finally:
        stop.set()
        barrier.abort()
        for t in threads:
            t.join(timeout=10)
        for c in clients:
            c.close()
    # If the pool ran dry inside the window, the window ends at the first "no work".
    window, ran_out_at = seconds, None
    ran_out = [r.no_work_at for r in results if r.no_work_at is not None]
    if ran_out and min(ran_out) < clock["end"]:
        ran_out_at = max(0.0, min(ran_out) - clock["start"])
        window = max(ran_out_at, 1e-3)
    return LoadResult(workers, window, results, bad, cpu.usage, ran_out_at)


@dataclass(frozen=True)
class Phase:
    name: str
    think_ms: float


def phases_of(args: argparse.Namespace) -> list[Phase]:
    """Paced first (the latency targets), then saturated (the throughput ratio)."""
    out = []
    if "paced" in args.phases:
        out.append(Phase("paced", args.think_ms))
    if "saturated" in args.phases:
        out.append(Phase("saturated", 0.0))
    return out


def run_phases(
    side: Side, args: argparse.Namespace, meter: Callable[[], CpuMeter]
) -> list[tuple[Phase, LoadResult]]:
    runs = []
    for phase in phases_of(args):
        log(f"{side.name}: {phase.name} phase, think {phase.think_ms:g} ms ...")
        load = run_load(side, args.workers, args.warmup, args.seconds, phase.think_ms, meter())
        runs.append((phase, load))
        if load.ran_out_at_s is not None:
            log(f"{side.name}: ran out of work in the {phase.name} phase; raise --tasks")
            break
    return runs


def acked_answers(runs: list[tuple[Phase, LoadResult]]) -> list[int]:
    return [a for _, load in runs for r in load.results for a in r.acked]


# -- engine side -----------------------------------------------------------------------------


def make_pngs(folder: Path, count: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i:05d}.png"
        # Distinct pixels per file (identical files in one job are stored once).
        Image.new("RGB", (32, 24), (i % 256, (i // 256) % 256, 90)).save(path)
        paths.append(path)
    return paths


class EngineSide(Side):
    name = "engine"

    def __init__(self, url: str, keys: list[str]) -> None:
        self.url, self.keys = url, keys
        self.labels = list(LABELS)

    def client(self, index: int) -> httpx.Client:
        return worker_http(self.url, f"Bearer {self.keys[index]}")

    def next_task(self, http: httpx.Client, res: WorkerResult, bad: Sample) -> dict[str, Any]:
        r = http.post("/v1/work/next", json={})
        res.statuses[f"next {r.status_code}"] += 1
        if r.status_code == 204:
            raise NoWork
        if r.status_code != 200:
            bad.add(f"next {r.status_code}", r.text)
            raise httpx.HTTPStatusError("next", request=r.request, response=r)
        body = r.json()
        missing = NEXT_KEYS - body.keys()
        if missing:
            bad.add("next 200 missing keys", f"{sorted(missing)} in {r.text}")
        return body

    def submit(
        self,
        http: httpx.Client,
        task: dict[str, Any],
        res: WorkerResult,
        bad: Sample,
        spent: float,
    ) -> None:
        labels = task.get("labels") or self.labels
        payload = {
            "client_answer_id": str(uuid.uuid4()),
            "answer": {"label": random.choice(labels)},
            "time_spent_seconds": spent,
        }
        r = http.post(f"/v1/work/{task['lease_id']}/submit", json=payload)
        res.statuses[f"submit {r.status_code}"] += 1
        if r.status_code == 201:
            body = r.json()
            if body.get("status") != "accepted" or "answer_id" not in body:
                bad.add("submit 201 body", r.text)
            res.acked.append(int(body["answer_id"]))
            res.last_submit = (task["lease_id"], payload, int(body["answer_id"]))
            return
        bad.add(f"submit {r.status_code}", r.text)
        if r.status_code >= 500:
            raise httpx.HTTPStatusError("submit", request=r.request, response=r)


def check_replays(side: EngineSide, load: LoadResult, count: int = 10) -> dict[str, int]:
    """After the run, for a few workers: resending the last submit (same client_answer_id)
    must answer 200 with the same answer id, and a new id on that spent lease 409; neither
    may store anything (the integrity check runs afterwards)."""
    out = {"replayed": 0, "replay_ok": 0, "resubmitted": 0, "resubmit_refused": 0}
    done = [(i, r.last_submit) for i, r in enumerate(load.results) if r.last_submit]
    for index, (lease_id, payload, answer_id) in done[:count]:
        with side.client(index) as http:
            r = http.post(f"/v1/work/{lease_id}/submit", json=payload)
            out["replayed"] += 1
            if r.status_code == 200 and r.json().get("answer_id") == answer_id:
                out["replay_ok"] += 1
            else:
                load.bad.add(
                    f"replay {r.status_code}", f"expected 200 answer {answer_id}: {r.text}"
                )
            r = http.post(
                f"/v1/work/{lease_id}/submit",
                json={**payload, "client_answer_id": str(uuid.uuid4())},
            )
            out["resubmitted"] += 1
            if r.status_code == 409:
                out["resubmit_refused"] += 1
            else:
                load.bad.add(f"resubmit {r.status_code}", f"expected 409: {r.text}")
    return out


def kazi(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"kazi {' '.join(args[:3])} ... failed (rc {done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return done


def wait_http(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout:.0f} s:\n{tail(log_path)}")
        time.sleep(0.3)


def analyze(database: str) -> None:
    """Fresh planner statistics, as autovacuum would have them a minute after the tasks were
    loaded (the load starts seconds after; ``--no-analyze`` measures that cold case)."""
    with psycopg.connect(_libpq(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database),
                         autocommit=True) as conn:  # fmt: skip
        conn.execute("ANALYZE")


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def engine_half(
    args: argparse.Namespace,
    cleanup: Cleanup,
    *,
    name: str = "engine",
    spec_extra: str = "",
    before_submit: Callable[[dict[str, str], str], None] | None = None,
) -> list[dict[str, Any]]:
    """One engine side: its own database, workers, a job of ``args.tasks`` images, the load
    phases. ``spec_extra`` adds lines to the job spec; ``before_submit(env, db_url)`` runs
    once the database is migrated (bench/ledger.py funds the client there)."""
    run_id = uuid.uuid4().hex[:10]
    db = f"kazi_bench_{run_id}"
    db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db
    var = Path(tempfile.mkdtemp(prefix=f"kazi-bench-{run_id}-"))
    prefix = f"kazi-bench-{run_id}:"
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    cleanup.push("temp dir", lambda: shutil.rmtree(var, ignore_errors=True))
    with admin_connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))

    def drop_db() -> None:
        with admin_connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
            )

    cleanup.push(f"database {db}", drop_db)

    def drop_redis_keys() -> None:
        import redis

        r = redis.Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            r.delete(*keys)

    cleanup.push("redis keys", drop_redis_keys)

    env = {
        **os.environ,
        "KAZI_DATABASE_URL": db_url,
        "KAZI_VAR_DIR": str(var),
        "KAZI_STORE_BACKEND": "local",
        "KAZI_BROKER_URL": REDIS_URL,
        "KAZI_BROKER_KEY_PREFIX": prefix,
        "KAZI_RESULT_BACKEND": "db+" + db_url,
        "KAZI_PUBLIC_URL": url,
        "KAZI_LABEL_STUDIO_TOKEN": "",
        # A database URL is production mode: each secret must be 32+ bytes.
        "KAZI_SIGNING_SECRET": f"bench-signing-{uuid.uuid4().hex}",
        "KAZI_WEBHOOK_SECRET": f"bench-webhook-{uuid.uuid4().hex}",
        "KAZI_DATA_KEY": f"bench-data-{uuid.uuid4().hex}",
        "KAZI_MAX_FILES_PER_JOB": str(max(1000, args.tasks)),
        "PYTHONUNBUFFERED": "1",
    }
    t_setup = time.perf_counter()
    kazi(env, "db", "upgrade")

    # Workers: the first through the CLI (the contract), the rest in-process (50 CLI starts
    # would take minutes on two cores).
    first = json.loads(
        kazi(env, "workers", "add", "bench-w000", "--tier", args.tier, "--json").stdout
    )
    for key in ("id", "handle", "api_key"):
        if key not in first:
            raise RuntimeError(f"`kazi workers add --json` printed no {key!r}: {first}")
    keys = [first["api_key"]]
    if args.workers > 1:
        from sqlalchemy import create_engine
        from sqlalchemy.orm import sessionmaker

        from engine.unit_of_work import SqlAlchemyUnitOfWork
        from engine.workforce.service import register_worker

        engine = create_engine(db_url)
        with SqlAlchemyUnitOfWork(sessionmaker(bind=engine)) as uow:
            for i in range(1, args.workers):
                keys.append(register_worker(uow, f"bench-w{i:03d}", args.tier).api_key)
            uow.commit()
        engine.dispose()
    log(f"engine: {args.workers} workers registered")

    pngs = make_pngs(var / "images", args.tasks)
    spec = var / "spec.yaml"
    spec.write_text(
        "kind: image_classification\n"
        f"labels: [{', '.join(LABELS)}]\n"
        f"overlap: {args.overlap}\n"
        "gold_ratio: 0\n" + spec_extra
    )
    if before_submit is not None:
        before_submit(env, db_url)
    celery_log = var / "celery.log"
    with celery_log.open("ab") as out:
        celery = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.cli.main",
                "worker",
                "--queues",
                "ingest,asr,publish,pipeline",
                "--concurrency",
                "2",
                "--loglevel",
                "WARNING",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    cleanup.push("celery worker", lambda: stop_process_group(celery, 60))
    log(f"engine: submitting {args.tasks} images (overlap {args.overlap}) ...")
    t_submit = time.perf_counter()
    try:
        done = kazi(
            env,
            "submit",
            *map(str, pngs),
            "--kind",
            "image_classification",
            "--spec",
            str(spec),
            "--wait",
            "--json",
            timeout=1800,
        )
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}\ncelery log:\n{tail(celery_log)}") from None
    job = json.loads(done.stdout)
    job_id = job["id"]
    submit_s = time.perf_counter() - t_submit
    status = json.loads(kazi(env, "status", job_id, "--json").stdout)
    if status.get("stage") != "labeling":
        raise RuntimeError(
            f"job {job_id} is in stage {status.get('stage')!r}, not 'labeling': "
            f"{json.dumps(status)[:1500]}\ncelery log:\n{tail(celery_log)}"
        )
    stop_process_group(celery, 60)
    log(f"engine: job {job_id} open for work with {len(job['tasks'])} tasks after {submit_s:.0f} s")

    if args.analyze:
        analyze(db)
    server_log = var / "serve.log"
    with server_log.open("ab") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.cli.main",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.serve_processes),
            ],  # fmt: skip
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    cleanup.push("engine server", lambda: stop_process_group(server, 30))
    wait_http(f"{url}/health", server, server_log, 120)
    setup_s = time.perf_counter() - t_setup
    log(f"engine: serving at {url} (setup {setup_s:.0f} s); running {args.workers} workers ...")

    side = EngineSide(url, keys)
    side.name = name
    runs = run_phases(side, args, lambda: CpuMeter(server.pid, db))
    replays = check_replays(side, runs[-1][1])
    stop_process_group(server, 30)

    with psycopg.connect(_libpq(db_url)) as conn:
        integrity = check_answers(
            conn, acked_answers(runs), "answers", "worker_id", "job_id = %s AND NOT is_gold",
            job_id, args.overlap,
        )  # fmt: skip
    info = {
        "job_id": job_id,
        "tasks": len(job["tasks"]),
        "overlap": args.overlap,
        "setup_s": round(setup_s, 1),
        "submit_wait_s": round(submit_s, 1),
        "server": f"kazi serve (uvicorn, {args.serve_processes} process(es))",
        "replays": replays,
    }
    return [summarize(name, phase, load, integrity, info) for phase, load in runs]


# -- Label Studio side ------------------------------------------------------------------------


def ls_label_config() -> str:
    xml = LS_CONFIG.read_text()
    choices = "".join(f'<Choice value="{label}"/>' for label in LABELS)
    lines = [choices if "kazi:labels" in line else line for line in xml.splitlines()]
    return "\n".join(lines)


def ls_sign_up(url: str, admin_token: str, invite: str, email: str, password: str) -> str:
    """Sign up through the invite link (docs/label-studio.md) and return the legacy token."""
    with httpx.Client(base_url=url, timeout=120) as session:
        session.get("/user/signup/")
        r = session.post(
            "/user/signup/",
            params={"token": invite},
            data={
                "email": email,
                "password": password,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": f"{url}/user/signup/"},
        )
        if r.status_code != 302:
            raise RuntimeError(f"sign-up of {email} answered {r.status_code}: {r.text[:300]}")
        token = session.get("/api/current-user/token").json()["token"]
    return str(token)


class LabelStudioSide(Side):
    name = "label studio"

    def __init__(self, url: str, project_id: int, tokens: list[str]) -> None:
        self.url, self.project_id, self.tokens = url, project_id, tokens

    def client(self, index: int) -> httpx.Client:
        return worker_http(self.url, f"Token {self.tokens[index]}")

    def next_task(self, http: httpx.Client, res: WorkerResult, bad: Sample) -> dict[str, Any]:
        r = http.get(f"/api/projects/{self.project_id}/next")
        res.statuses[f"next {r.status_code}"] += 1
        if r.status_code == 404:
            raise NoWork
        if r.status_code != 200:
            bad.add(f"next {r.status_code}", r.text)
            raise httpx.HTTPStatusError("next", request=r.request, response=r)
        return dict(r.json())

    def submit(
        self,
        http: httpx.Client,
        task: dict[str, Any],
        res: WorkerResult,
        bad: Sample,
        spent: float,
    ) -> None:
        r = http.post(
            f"/api/tasks/{task['id']}/annotations/",
            json={
                "result": [
                    {
                        "from_name": "label",
                        "to_name": "image",
                        "type": "choices",
                        "value": {"choices": [random.choice(LABELS)]},
                    }
                ],
                "lead_time": spent,
            },
        )
        res.statuses[f"submit {r.status_code}"] += 1
        if r.status_code == 201:
            res.acked.append(int(r.json()["id"]))
            return
        bad.add(f"submit {r.status_code}", r.text)
        if r.status_code >= 500:
            raise httpx.HTTPStatusError("submit", request=r.request, response=r)


def label_studio_half(args: argparse.Namespace, cleanup: Cleanup) -> list[dict[str, Any]]:
    from label_studio_sdk import LabelStudio

    from engine.labeling.label_studio_server import (
        LabelStudioServer,
        PostgresServer,
        ensure_installed,
        ensure_template_database,
    )

    t_setup = time.perf_counter()
    ensure_installed()
    pg = PostgresServer.from_url(PG_ADMIN_URL)
    server = LabelStudioServer.throwaway(
        postgres=pg, template_database=ensure_template_database(pg)
    )
    cleanup.push("label studio server", server.stop)
    server.start()
    server.wait_ready(timeout=300)
    log(f"label studio: up at {server.url}")

    ls = LabelStudio(base_url=server.url, api_key=server.token, timeout=300)
    project = ls.projects.create(
        title="bench distribution", label_config=ls_label_config(), maximum_annotations=args.overlap
    )
    assert project.id is not None
    pid = int(project.id)
    for start in range(0, args.ls_tasks, 500):
        batch = [
            {"data": {"image": f"http://127.0.0.1:1/img{i:05d}.png"}}
            for i in range(start, min(args.ls_tasks, start + 500))
        ]
        ls.projects.import_tasks(id=pid, request=batch)  # type: ignore[arg-type]
    log(
        f"label studio: project {pid} with {args.ls_tasks} tasks "
        f"(maximum_annotations {args.overlap}); signing up {args.workers} workers ..."
    )

    invite = httpx.get(f"{server.url}/api/invite", headers=server.auth_headers, timeout=60)
    invite.raise_for_status()
    token = invite.json()["token"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        tokens = list(
            pool.map(
                lambda i: ls_sign_up(
                    server.url,
                    server.token,
                    token,
                    f"bench-w{i:03d}@kazi.local",
                    f"Bench-pass-{i:03d}-{uuid.uuid4().hex[:6]}",
                ),
                range(args.workers),
            )
        )
    setup_s = time.perf_counter() - t_setup
    log(
        f"label studio: workers signed up (setup {setup_s:.0f} s); running {args.workers} "
        "workers ..."
    )

    if args.analyze:
        assert server.database is not None
        analyze(server.database)
    assert server.process is not None
    side = LabelStudioSide(server.url, pid, tokens)
    ls_pid, ls_db = server.process.pid, server.database
    runs = run_phases(side, args, lambda: CpuMeter(ls_pid, ls_db))

    assert server.database is not None
    with pg.connect(server.database) as conn:
        integrity = check_answers(
            conn, acked_answers(runs), "task_completion", "completed_by_id",
            "project_id = %s AND NOT was_cancelled", pid, args.overlap,
        )  # fmt: skip
    server.stop()
    info = {
        "project_id": pid,
        "tasks": args.ls_tasks,
        "overlap": args.overlap,
        "setup_s": round(setup_s, 1),
        "server": "label-studio 1.23.2 start (Django runserver, threaded)",
    }
    return [summarize("label studio", phase, load, integrity, info) for phase, load in runs]


# -- integrity -------------------------------------------------------------------------------


def check_answers(
    conn: psycopg.Connection[Any],
    acked: list[int],
    table: str,
    worker_col: str,
    where: str,
    scope: object,
    overlap: int,
) -> dict[str, int]:
    """Compare what the server acknowledged with what its database holds (all answers of the
    run, every phase, warm-up and window alike). ``where`` selects the run's answers with one
    parameter."""

    def q(query: str, *params: object) -> list[tuple[Any, ...]]:
        text = query.format(t=table, w=worker_col, where=where)
        return list(conn.execute(text, params))  # type: ignore[arg-type]

    stored = {row[0] for row in q("SELECT id FROM {t} WHERE {where}", scope)}
    same_worker = q(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {t} WHERE {where} "
        "GROUP BY task_id, {w} HAVING count(*) > 1) d",
        scope,
    )[0][0]
    over, tasks_over = q(
        "SELECT coalesce(sum(n - %s), 0), count(*) FROM (SELECT count(*) AS n FROM {t} "
        "WHERE {where} GROUP BY task_id HAVING count(*) > %s) d",
        overlap, scope, overlap,
    )[0]  # fmt: skip
    answered = q("SELECT count(DISTINCT task_id) FROM {t} WHERE {where}", scope)[0][0]
    ack_set = set(acked)
    return {
        "acknowledged": len(acked),
        "stored": len(stored),
        # Acknowledged (201) but not in the database.
        "lost": len(ack_set - stored),
        # In the database but never acknowledged to a worker.
        "unacked": len(stored - ack_set),
        # A worker answering a task twice, a task over its overlap, one id acknowledged twice.
        "duplicates": int(same_worker) + int(over) + (len(acked) - len(ack_set)),
        "same_worker_twice": int(same_worker),
        "beyond_overlap": int(over),
        "tasks_beyond_overlap": int(tasks_over),
        "tasks_answered": int(answered),
    }


# -- report ----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    rank = max(1, min(len(values), int(-(-q * len(values) // 100))))
    return round(values[rank - 1], 1)


def summarize(
    name: str, phase: Phase, load: LoadResult, integrity: dict[str, Any], info: dict[str, Any]
) -> dict[str, Any]:
    samples = load.samples()
    answer_ms = sorted(x[1] for x in samples)
    next_ms, submit_ms = sorted(x[2] for x in samples), sorted(x[3] for x in samples)
    request_ms = sorted(next_ms + submit_ms)
    statuses: Counter[str] = Counter()
    for r in load.results:
        statuses.update(r.statuses)
    return {
        "side": name,
        "phase": phase.name,
        "think_ms": phase.think_ms,
        "workers": load.workers,
        "answers": load.answers,
        "window_s": round(load.window_s, 2),
        "answers_per_s": round(load.answers / load.window_s, 2),
        "answer_p50_ms": pct(answer_ms, 50),
        "answer_p99_ms": pct(answer_ms, 99),
        "request_p50_ms": pct(request_ms, 50),
        "request_p99_ms": pct(request_ms, 99),
        "next_p50_ms": pct(next_ms, 50),
        "next_p99_ms": pct(next_ms, 99),
        "submit_p50_ms": pct(submit_ms, 50),
        "submit_p99_ms": pct(submit_ms, 99),
        "max_request_ms": round(request_ms[-1], 1) if request_ms else None,
        "duplicates": integrity["duplicates"],
        "lost": integrity["lost"],
        "integrity": integrity,
        "transport_errors": sum(r.errors for r in load.results),
        "statuses": dict(sorted(statuses.items())),
        "unexpected": load.bad.items,
        "ran_out_of_work_at_s": load.ran_out_at_s,
        "cpu": {k: round(v, 3) for k, v in load.cpu.items()},
        "client": load.client_model,
        **info,
    }


def render(report: dict[str, Any]) -> str:
    rows = report["sides"]
    head = [
        "",
        "phase",
        "workers",
        "answers",
        "answers/s",
        "answer p50",
        "answer p99",
        "request p50",
        "request p99",
        "duplicates",
        "lost",
    ]

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} ms"

    table = [head] + [
        [
            r["side"],
            f"{r['phase']} ({r['think_ms']:g} ms)",
            str(r["workers"]),
            str(r["answers"]),
            f"{r['answers_per_s']:.1f}",
            ms(r["answer_p50_ms"]),
            ms(r["answer_p99_ms"]),
            ms(r["request_p50_ms"]),
            ms(r["request_p99_ms"]),
            str(r["duplicates"]),
            str(r["lost"]),
        ]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = []
    for n, row in enumerate(table):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    a = report["args"]
    lines.insert(
        0,
        f"distribution benchmark: {a['workers']} workers per side in a closed loop (next, think, "
        f"submit), {a['warmup']:g} s warm-up + {a['seconds']:g} s measured per phase, overlap "
        f"{a['overlap']}, {'ANALYZEd' if a['analyze'] else 'cold'} planner statistics",
    )
    lines.insert(
        1,
        "phases: paced = each worker thinks the given mean time (0.5x..1.5x) per answer; "
        "saturated = no think time",
    )
    lines.insert(2, "")
    lines.append("")
    lines.append("per side: next and submit p50 / p99; CPU used in the window, in cores")
    for r in rows:
        c = r["cpu"]
        cpu = [f"client {c.get('client_cores', 0):.2f}", f"server {c.get('server_cores', 0):.2f}"]
        cpu.append(f"postgres (all dbs) {c.get('postgres_cores', 0):.2f}")
        lines.append(
            f"  {r['side'] + ' ' + r['phase']:<22} next {ms(r['next_p50_ms'])} / "
            f"{ms(r['next_p99_ms'])}, "
            f"submit {ms(r['submit_p50_ms'])} / {ms(r['submit_p99_ms'])}"
        )
        lines.append(
            f"  {'':<22} {', '.join(cpu)} of {c.get('cores', 0):g} cores; machine "
            f"{100 * c.get('machine_busy_fraction', 0):.0f}% busy, "
            f"load {c.get('load_average_1m', 0):.1f}"
        )
        if r["answers"] and "pg_sessions" in c:
            lines.append(
                f"  {'':<22} its database: {c['pg_sessions'] / r['answers']:.1f} new connections "
                f"and {c['pg_transactions'] / r['answers']:.1f} transactions per answer"
            )
        extra = []
        if r["ran_out_of_work_at_s"] is not None:
            extra.append(f"ran out of work {r['ran_out_of_work_at_s']:.1f} s into the window")
        if r["transport_errors"]:
            extra.append(f"{r['transport_errors']} failed requests")
        if r["integrity"]["unacked"]:
            extra.append(f"{r['integrity']['unacked']} stored answers never acknowledged")
        if "replays" in r:
            rp = r["replays"]
            extra.append(
                f"after the run: {rp['replay_ok']}/{rp['replayed']} replayed submits answered 200 "
                f"with the same answer id, {rp['resubmit_refused']}/{rp['resubmitted']} new ids "
                "on a spent lease refused (409)"
            )
        if r["unexpected"]:
            extra.append("unexpected: " + " | ".join(r["unexpected"]))
        for e in extra:
            lines.append(f"  {'':<22} {e}")
    lines.append("")
    lines.append(
        "client, servers and PostgreSQL share this machine's "
        f"{os.cpu_count()} cores (and whatever else runs on it)"
    )
    for t in report["targets"]:
        lines.append(f"{'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['value']}")
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Throughput is compared where both sides are saturated; latency is judged where the
    engine is not (at zero think time a closed loop's latency is workers / throughput, by
    Little's law, whatever the server does)."""
    out: list[dict[str, Any]] = []

    def row(side: str, phase: str) -> dict[str, Any] | None:
        return next((r for r in rows if r["side"] == side and r["phase"] == phase), None)

    for phase in ("saturated", "paced"):
        eng, ls = row("engine", phase), row("label studio", phase)
        if eng and ls:
            ratio = eng["answers_per_s"] / ls["answers_per_s"] if ls["answers_per_s"] else None
            out.append(
                {
                    "target": f"engine answers/s >= {TARGET_RATIO:g} x Label Studio ({phase})",
                    "value": "n/a" if ratio is None else f"{ratio:.1f}x",
                    "ratio": ratio,
                    "pass": ratio is not None and ratio >= TARGET_RATIO,
                }
            )
            break
    paced = row("engine", "paced")
    if paced:
        offered = paced["workers"] / (paced["think_ms"] / 1000) if paced["think_ms"] else None
        load = f"{paced['answers_per_s']:.1f} answers/s"
        if offered:
            load += f" of ~{offered:.0f}/s offered"
        for key, what in (
            ("request_p99_ms", "per request"),
            ("answer_p99_ms", "per answer (next + submit)"),
        ):
            v = paced[key]
            out.append(
                {
                    "target": f"engine p99 {what} < {TARGET_P99_MS:g} ms (paced, {load})",
                    "value": "-" if v is None else f"{v:.1f} ms",
                    "pass": v is not None and v < TARGET_P99_MS,
                }
            )
    eng = next((r for r in rows if r["side"] == "engine"), None)
    if eng:
        bad = eng["lost"] + eng["duplicates"]
        rp = eng.get("replays", {})
        bad += rp.get("replayed", 0) - rp.get("replay_ok", 0)
        bad += rp.get("resubmitted", 0) - rp.get("resubmit_refused", 0)
        out.append(
            {
                "target": "engine: zero lost or duplicated answers (all phases)",
                "value": f"{eng['lost']} lost, {eng['duplicates']} duplicated, "
                f"{eng['integrity']['unacked']} unacked; replays {rp.get('replay_ok', 0)}/"
                f"{rp.get('replayed', 0)} idempotent, {rp.get('resubmit_refused', 0)}/"
                f"{rp.get('resubmitted', 0)} resubmits refused",
                "pass": bad == 0 and eng["integrity"]["unacked"] == 0,
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per side")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=1000.0,
        help="paced phase: mean time a worker spends on a task (uniform 0.5x..1.5x)",
    )
    parser.add_argument(
        "--phases",
        default="paced,saturated",
        help="which load phases to run, in order: paced, saturated (comma-separated)",
    )
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=5000, help="engine tasks (images)")
    parser.add_argument("--ls-tasks", type=int, default=1000, help="Label Studio tasks")
    parser.add_argument(
        "--serve-processes",
        type=int,
        default=2,
        help="kazi serve --workers (uvicorn processes; one per core here)",
    )
    parser.add_argument("--tier", default="qualified", help="engine worker tier")
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="skip ANALYZE of each side's database after loading the tasks",
    )
    parser.add_argument("--engine-only", action="store_true")
    parser.add_argument("--ls-only", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.engine_only and args.ls_only:
        parser.error("--engine-only and --ls-only exclude each other")
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not args.phases or set(args.phases) - {"paced", "saturated"}:
        parser.error("--phases takes paced and/or saturated")

    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in background
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGHUP, _sigterm)
    rows: list[dict[str, Any]] = []
    halves = []
    if not args.ls_only:
        halves.append(engine_half)
    if not args.engine_only:
        halves.append(label_studio_half)
    try:
        for half in halves:
            cleanup = Cleanup()
            try:
                result = half(args, cleanup)
            finally:
                cleanup.run()
            rows.extend(result)
    except KeyboardInterrupt:
        log("interrupted; everything started was stopped and removed")
        return 130
    report = {
        "args": vars(args),
        "sides": rows,
        "targets": targets(rows),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
