"""A whole engine stack that a test may break: a private PostgreSQL cluster, a private Redis and
the engine's own processes (``kazi serve``, ``kazi worker --beat``), each on a free port of its
own so it can be killed and started again without touching the shared servers.

Only the ports, the private URLs and the temp folders differ from a deployment: every other
setting is the engine's default (no tuned visibility timeout, no tuned stall seconds), so the
recovery the tests see is the one production gets. Like the deployment's process supervisor
(``restart: unless-stopped``), the stack starts again an engine process that exits by itself,
and records it. The test process reads the database with plain SQL, independent of the
engine's repositories.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import psycopg

REPO_ROOT = Path(__file__).resolve().parents[2]
# The console script of the interpreter running the tests (the project's virtual environment).
KAZI = Path(sys.executable).with_name("kazi")
SPEECH = (REPO_ROOT.parent / "shared" / "data" / "speech").resolve()
DATABASE = "kazi"
# Stages after which the engine owes the job no more work until people answer.
SETTLED = ("labeling", "reviewing", "delivered", "failed")

T = TypeVar("T")


class StackAborted(RuntimeError):
    """The stack is being torn down; a scenario still waiting on it gives up."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.2,
    aborted: threading.Event | None = None,
) -> T:
    """Poll ``probe`` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout
    while True:
        if aborted is not None and aborted.is_set():
            raise StackAborted(what)
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


class RedisServer:
    """``redis-server`` without persistence: a restart comes back empty, like production."""

    def __init__(self, port: int, log_dir: Path) -> None:
        self.port = port
        self.log = log_dir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_until(self.answers_ping, 20, f"redis on port {self.port}")

    def answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def _postgres_bin(name: str) -> str:
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3])
    )
    if found:
        return str(found[-1])
    on_path = shutil.which(name)
    if on_path is None:
        raise FileNotFoundError(f"PostgreSQL's {name} is not installed")
    return on_path


class PostgresCluster:
    """A throwaway cluster (initdb, trust auth) run by pg_ctl. PostgreSQL refuses to run as
    root, so as root its commands run as the ``postgres`` OS user, which owns the folder."""

    def __init__(self, port: int, root: Path) -> None:
        self.port = port
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.log = root / "postgres.log"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, *argv], cwd=self.root, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                f"{_tail(self.log)}"
            )

    def init(self) -> None:
        self.socket_dir.mkdir(parents=True)
        if os.geteuid() == 0:
            for path in (self.root, self.socket_dir):
                shutil.chown(path, "postgres", "postgres")
        self._run(
            _postgres_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        # fsync off: a test cluster need not survive a power cut, and it saves disk flushes on
        # a shared CI machine. Stops here are clean (fast shutdown checkpoints), never crashes.
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')


class EngineProcess:
    """One engine command in its own process group, so a kill takes its children (Celery's
    pool and embedded beat) with it. Every start appends to a new log file.

    Supervised like the deployment's ``restart: unless-stopped`` (docker-compose.yml): a
    process that exits by itself is started again, and its exit is recorded. A test that
    kills it on purpose holds ``lock`` from the kill to the fresh start."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log_dir: Path
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_dir = log_dir
        self.logs: list[Path] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        # Exit codes of the times it stopped by itself (and the supervisor started it again).
        self.own_exits: list[int] = []

    def start(self) -> None:
        log_path = self.log_dir / f"{self.name}-{len(self.logs) + 1}.log"
        self.logs.append(log_path)
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def restart_if_exited(self) -> None:
        with self.lock:
            if self.proc is None or self.proc.poll() is None:
                return
            self.own_exits.append(self.proc.returncode)
            self.kill_group()  # whatever of its group outlived it
            self.start()

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if not self.running():
            self.kill_group()  # children of a leader that already exited
            return
        self.kill_group(signal.SIGTERM)
        try:
            assert self.proc is not None
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        self.kill_group(signal.SIGKILL)

    def tail(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {p.name}\n{_tail(p, chars)}" for p in self.logs[-2:])


@dataclass(frozen=True)
class JobProgress:
    stage: str
    stage_events: int
    drafts: int
    tasks: int

    @property
    def marker(self) -> tuple[int, int]:
        """Grows with every stage change and every new draft."""
        return (self.stage_events, self.drafts)


class StackDb:
    """Plain-SQL reads of the private database; each call opens a short connection, so a read
    while PostgreSQL is down fails (OperationalError) instead of hanging on a dead socket."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
            yield conn

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            return list(conn.execute(sql, params).fetchall())

    def progress(self, job_id: str) -> JobProgress:
        ((stage, events, drafts, tasks),) = self.rows(
            """
            SELECT j.stage,
                   (SELECT count(*) FROM job_stage_events e WHERE e.job_id = j.id),
                   (SELECT count(*) FROM drafts d JOIN tasks t ON t.id = d.task_id
                     WHERE t.job_id = j.id),
                   (SELECT count(*) FROM tasks t WHERE t.job_id = j.id)
              FROM jobs j WHERE j.id = %s
            """,
            job_id,
        )
        return JobProgress(stage, events, drafts, tasks)

    def progress_or_none(self, job_id: str) -> JobProgress | None:
        try:
            return self.progress(job_id)
        except psycopg.OperationalError:
            return None

    def stage_history(self, job_id: str) -> list[str]:
        sql = "SELECT stage FROM job_stage_events WHERE job_id = %s ORDER BY id"
        return [stage for (stage,) in self.rows(sql, job_id)]

    def drafts_per_audio_task(self, job_id: str) -> dict[str, int]:
        sql = """
            SELECT t.id, count(d.id) FROM tasks t LEFT JOIN drafts d ON d.task_id = t.id
             WHERE t.job_id = %s AND t.kind = 'audio_segment' GROUP BY t.id
        """
        return {task_id: count for task_id, count in self.rows(sql, job_id)}

    def answers(self, job_id: str) -> list[tuple[int, str, str, str | None]]:
        """(answer id, task id, worker id, client answer id) of every answer of the job."""
        sql = """SELECT id, task_id, worker_id, client_answer_id FROM answers
                  WHERE job_id = %s AND NOT is_gold"""
        return [(a, t, w, c) for a, t, w, c in self.rows(sql, job_id)]


@dataclass(frozen=True)
class WorkerAccount:
    id: str
    handle: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass(frozen=True)
class SubmitRecord:
    """One submit a simulated worker got an answer to (a status the API sent)."""

    worker_id: str
    task_id: str
    lease_id: str
    client_answer_id: str
    status: int
    answer_id: int | None


class FaultStack:
    """PostgreSQL + Redis + API + worker (with beat), all private to one test module."""

    def __init__(self, name: str, root: Path, logs: Path) -> None:
        """``root`` (databases, broker state, objects) is removed by close(); ``logs`` stays
        for the post-mortem of a failed run. PostgreSQL's own user must be able to reach
        ``root``, so keep it out of folders only root may enter."""
        self.name = name
        self.root = root
        self.logs = logs
        self.logs.mkdir(parents=True, exist_ok=True)
        self.aborted = threading.Event()
        self.postgres = PostgresCluster(free_port(), root / "pg")
        self.redis = RedisServer(free_port(), self.logs)
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.db = StackDb(self.postgres.dsn(DATABASE))
        self.env = self._engine_env()
        serve = [str(KAZI), "serve", "--port", str(self.api_port)]
        self.api = EngineProcess("api", serve, self.env, root, self.logs)
        worker = [str(KAZI), "worker", "--beat"]
        self.worker = EngineProcess("worker", worker, self.env, root, self.logs)
        self.http = httpx.Client(base_url=self.api_url, timeout=60)
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"supervise-{name}", daemon=True
        )

    def _engine_env(self) -> dict[str, str]:
        # The test session's own KAZI_* settings (the shared servers) must not leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAZI_")}
        url = "postgresql+psycopg://" + self.postgres.dsn(DATABASE).removeprefix("postgresql://")
        env.update(
            {
                "KAZI_DATABASE_URL": url,
                "KAZI_BROKER_URL": self.redis.url(0),
                "KAZI_RESULT_BACKEND": self.redis.url(1),
                "KAZI_VAR_DIR": str(self.root / "var"),
                "KAZI_STORE_BACKEND": "local",
                "KAZI_STORE_DIR": str(self.root / "objects"),
                "KAZI_SIGNING_SECRET": f"fault-{uuid.uuid4().hex}",
                "KAZI_WEBHOOK_SECRET": f"fault-hook-{uuid.uuid4().hex}",
                "KAZI_DATA_KEY": f"fault-data-{uuid.uuid4().hex}",
                "KAZI_PUBLIC_URL": self.api_url,
                "KAZI_REVIEW_SAMPLE_RATE": "0",
                # The engine is imported from this checkout, whatever the venv was built from.
                # The processes run in the stack's folder, so no developer .env is read.
                "PYTHONPATH": str(REPO_ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.root.mkdir(parents=True)
        self.postgres.init()
        self.postgres.start()
        self.postgres.create_database(DATABASE)
        self.redis.start()
        self.kazi("db", "upgrade")
        self.api.start()
        self.worker.start()
        wait_until(self._api_healthy, 120, f"{self.name}: API /health\n{self.api.tail()}")
        self._supervisor.start()

    def _supervise(self) -> None:
        # Docker restarts after 100 ms at first; polling every half second is close enough.
        while not self.aborted.wait(0.5):
            self.api.restart_if_exited()
            self.worker.restart_if_exited()

    def _api_healthy(self) -> bool:
        if not self.api.running():
            raise RuntimeError(f"{self.name}: kazi serve exited\n{self.api.tail()}")
        try:
            return self.http.get("/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self.aborted.set()
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=30)
        self.http.close()
        self.worker.stop()
        self.api.stop()
        self.redis.kill()
        if self.postgres.is_running():
            with suppress(RuntimeError, subprocess.TimeoutExpired):
                self.postgres.stop("immediate")
        if self.postgres.log.exists():
            shutil.copy(self.postgres.log, self.logs / "postgres.log")
        shutil.rmtree(self.root, ignore_errors=True)

    def kill_worker(self, between: Callable[[], T]) -> T:
        """SIGKILL the worker's whole process group, run ``between`` (say, read where the job
        stands) and start a fresh worker with the same command at once."""
        with self.worker.lock:
            self.worker.kill_group()
            try:
                return between()
            finally:
                self.worker.start()

    def own_exits(self) -> str:
        """The engine processes that stopped by themselves (the supervisor restarted them)."""
        exits = [f"{p.name} exited {p.own_exits}" for p in (self.api, self.worker) if p.own_exits]
        return ", ".join(exits) or "none"

    def diagnostics(self, job_id: str | None = None) -> str:
        parts = [f"== stack {self.name}"]
        if job_id is not None:
            try:
                parts.append(f"stage history: {self.db.stage_history(job_id)}")
            except psycopg.Error as exc:
                parts.append(f"stage history unreadable: {exc}")
        parts += [f"== worker\n{self.worker.tail()}", f"== api\n{self.api.tail()}"]
        return "\n".join(parts)

    # -- administration through the CLI ----------------------------------------------------

    def kazi(self, *args: str) -> str:
        done = subprocess.run(
            [str(KAZI), *args], cwd=self.root, env=self.env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"kazi {' '.join(args)}: {done.returncode}\n{done.stderr}")
        return done.stdout

    def new_client(self) -> dict[str, str]:
        out = self.kazi("clients", "create", f"fault-{uuid.uuid4().hex[:8]}")
        key = next(
            ln.removeprefix("api key ") for ln in out.splitlines() if ln.startswith("api key")
        )
        return {"Authorization": f"Bearer {key.strip()}"}

    def new_worker(self) -> WorkerAccount:
        handle = f"sim-{uuid.uuid4().hex[:8]}"
        out = json.loads(self.kazi("workers", "add", handle, "--tier", "qualified", "--json"))
        return WorkerAccount(out["id"], out["handle"], out["api_key"])

    # -- jobs --------------------------------------------------------------------------------

    def submit_audio(self, client: dict[str, str], wav: Path, overlap: int) -> str:
        spec = {"kind": "transcription", "overlap": overlap, "gold_ratio": 0.0}
        with wav.open("rb") as audio:
            resp = self.http.post(
                "/v1/jobs", headers=client, data={"spec": json.dumps(spec)},
                files=[("files", (wav.name, audio, "audio/wav"))],
            )  # fmt: skip
        if resp.status_code != 201:
            raise RuntimeError(f"job submit: {resp.status_code} {resp.text}")
        return str(resp.json()["id"])

    def wait_for(
        self, job_id: str, done: Callable[[JobProgress], bool], timeout: float, what: str,
        interval: float = 0.2,
    ) -> JobProgress:  # fmt: skip
        """Poll the job until ``done``; reads that fail (database down) count as not done."""

        def probe() -> JobProgress | None:
            progress = self.db.progress_or_none(job_id)
            return progress if progress is not None and done(progress) else None

        try:
            return wait_until(probe, timeout, what, interval, self.aborted)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.diagnostics(job_id)}") from None

    def wait_for_stage(self, job_id: str, stages: tuple[str, ...], timeout: float) -> str:
        return self.wait_for(
            job_id, lambda p: p.stage in stages, timeout, f"job {job_id} to reach {stages}"
        ).stage

    def seconds_to_next_progress(self, job_id: str, since: JobProgress, timeout: float) -> float:
        """Seconds until the job shows progress past ``since`` (a stage change or a draft);
        0 when it had reached a settled stage already."""
        started = time.monotonic()
        if since.stage in SETTLED:
            return 0.0
        self.wait_for(
            job_id, lambda p: p.marker > since.marker or p.stage in SETTLED, timeout,
            f"job {job_id} to progress past {since}", interval=0.1,
        )  # fmt: skip
        return time.monotonic() - started


def answer_every_task(
    stack: FaultStack, job_id: str, workers: list[WorkerAccount]
) -> list[SubmitRecord]:
    """The workers take turns leasing and answering until none gets work. Each answers with
    the draft (a worker who accepts the machine draft), so the overlapping answers agree and
    the job needs no review. A submit that fails in transit is sent again with the same
    client answer id, as a real client would."""
    records: list[SubmitRecord] = []
    busy = True
    while busy:
        busy = False
        for worker in workers:
            resp = stack.http.post("/v1/work/next", headers=worker.auth, json={"job_id": job_id})
            if resp.status_code == 204:
                continue
            if resp.status_code != 200:
                raise AssertionError(
                    f"work/next: {resp.status_code} {resp.text}\n{stack.diagnostics(job_id)}"
                )
            busy = True
            lease = resp.json()
            draft = (lease.get("draft") or {}).get("text") or ""
            text = draft.strip() or f"segment {lease['task_id'][:8]}"
            records.append(_submit(stack, worker, lease, text))
    return records


def _submit(
    stack: FaultStack, worker: WorkerAccount, lease: dict[str, Any], text: str
) -> SubmitRecord:
    client_answer_id = str(uuid.uuid4())
    body = {"client_answer_id": client_answer_id, "answer": {"text": text},
            "time_spent_seconds": 4.0}  # fmt: skip
    url = f"/v1/work/{lease['lease_id']}/submit"
    for attempt in range(5):
        try:
            resp = stack.http.post(url, headers=worker.auth, json=body)
        except httpx.TransportError:
            time.sleep(1 + attempt)
            continue
        if resp.status_code >= 500:
            time.sleep(1 + attempt)
            continue
        answer_id = resp.json().get("answer_id") if resp.status_code in (200, 201) else None
        return SubmitRecord(
            worker.id, lease["task_id"], lease["lease_id"], client_answer_id,
            resp.status_code, answer_id,
        )  # fmt: skip
    raise AssertionError(f"submit {url} kept failing")


# -- media ---------------------------------------------------------------------------------------

RATE = 16000
PAUSES = (1.4, 1.8, 1.2, 2.0, 1.6)


def _decode_mono(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(chunks)


def write_speech_recording(path: Path, seconds: float = 135.0) -> float:
    """A WAV of the shared speech clips one after another with short pauses (no silence long
    enough to force a cut), about ``seconds`` long; returns its duration."""
    import wave

    clips = [
        _decode_mono(p)
        for p in sorted(
            [
                SPEECH / "jfk.flac",
                *(SPEECH / "librispeech").glob("*.flac"),
                SPEECH / "harvard-OSR_us_000_0034_8k.wav",
            ]
        )  # fmt: skip
    ]
    parts = [np.zeros(int(0.5 * RATE), np.int16)]
    total = 0.5
    i = 0
    while total < seconds:
        clip = clips[i % len(clips)]
        pause = np.zeros(int(PAUSES[i % len(PAUSES)] * RATE), np.int16)
        parts += [clip, pause]
        total += (len(clip) + len(pause)) / RATE
        i += 1
    audio = np.concatenate(parts)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(audio.astype("<i2").tobytes())
    return len(audio) / RATE
