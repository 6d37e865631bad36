"""A real Label Studio server as a child process, for development, tests and CI.

Label Studio lives in its own virtual environment (``.venv-labelstudio``, made by
``scripts/label_studio.sh install``) because its pins (redis<5.3, older celery and SQLAlchemy)
clash with the engine's. This module only runs its binary and speaks HTTP to it; it never
imports Label Studio. See ``docs/label-studio.md`` for the API recipes that work against it.

    with LabelStudioServer.throwaway() as server:   # free port, fresh PostgreSQL database
        LabelStudio(base_url=server.url, api_key=server.token)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import httpx
import psycopg
from psycopg import errors, sql

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO_ROOT / ".venv-labelstudio"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "label_studio.sh"
# Keep in step with LABEL_STUDIO_VERSION in scripts/label_studio.sh.
LABEL_STUDIO_VERSION = "1.23.2"

DEFAULT_USERNAME = "admin@kazi.local"
DEFAULT_PASSWORD = "kazi-dev-password"
DEFAULT_TOKEN = "kazi-dev-label-studio-token"
DEFAULT_DATABASE = "kazi_labelstudio"

# Inherited from the caller's environment; everything else Label Studio sees is set here, so a
# stray DJANGO_*, POSTGRE_*, HOST or PORT in the engine's environment cannot change it.
_INHERITED_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
)  # fmt: skip


class LabelStudioError(RuntimeError):
    """Label Studio is not installed, would not start, or does not accept the admin token."""


@dataclass(frozen=True)
class PostgresServer:
    """Where Label Studio's PostgreSQL lives, and a superuser-ish role that may create databases."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    # Database to connect to for CREATE/DROP DATABASE.
    admin_database: str = "postgres"

    @classmethod
    def from_env(cls) -> PostgresServer:
        """``KAZI_LABEL_STUDIO_PG_HOST``/``_PORT``/``_USER``/``_PASSWORD``, as the script reads."""
        env = os.environ
        return cls(
            host=env.get("KAZI_LABEL_STUDIO_PG_HOST", cls.host),
            port=int(env.get("KAZI_LABEL_STUDIO_PG_PORT", cls.port)),
            user=env.get("KAZI_LABEL_STUDIO_PG_USER", cls.user),
            password=env.get("KAZI_LABEL_STUDIO_PG_PASSWORD", cls.password),
        )

    @classmethod
    def from_url(cls, url: str) -> PostgresServer:
        """From ``postgresql[+driver]://user[:password]@host[:port]/admin_database``."""
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgresql"):
            raise ValueError(f"not a PostgreSQL URL: {url!r}")
        return cls(
            host=parts.hostname or cls.host,
            port=parts.port or cls.port,
            user=unquote(parts.username or cls.user),
            password=unquote(parts.password or ""),
            admin_database=parts.path.lstrip("/") or cls.admin_database,
        )

    def connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname or self.admin_database,
            autocommit=True,
            connect_timeout=10,
        )

    def database_exists(self, name: str) -> bool:
        with self.connect() as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        return row is not None

    def create_database(self, name: str, template: str | None = None) -> bool:
        """Create ``name`` (as a copy of ``template`` if given); False when it already exists."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        for attempt in range(20):
            try:
                with self.connect() as conn:
                    conn.execute(statement)
                return True
            except errors.DuplicateDatabase:
                return False
            except errors.ObjectInUse:
                # The template is briefly busy (another copy or its build still closing).
                if attempt == 19:
                    raise
                time.sleep(0.5)
        return False  # unreachable

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def django_env(self, database: str) -> dict[str, str]:
        """What Label Studio's settings read to use this server (``core/settings/base.py``)."""
        return {
            "DJANGO_DB": "default",
            "POSTGRE_NAME": database,
            "POSTGRE_USER": self.user,
            "POSTGRE_PASSWORD": self.password,
            "POSTGRE_HOST": self.host,
            "POSTGRE_PORT": str(self.port),
        }


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def is_installed(venv: Path = DEFAULT_VENV) -> bool:
    stamp = venv / ".kazi-installed"
    return (
        (venv / "bin" / "label-studio").exists()
        and stamp.exists()
        and (stamp.read_text().strip() == f"label-studio=={LABEL_STUDIO_VERSION}")
    )


def ensure_installed(venv: Path = DEFAULT_VENV, timeout: float = 1800) -> None:
    """Run ``scripts/label_studio.sh install`` unless the pinned version is already there."""
    if is_installed(venv):
        return
    env = {**os.environ, "KAZI_LABEL_STUDIO_VENV": str(venv)}
    done = subprocess.run(
        ["bash", str(INSTALL_SCRIPT), "install"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0 or not is_installed(venv):
        raise LabelStudioError(
            f"installing Label Studio failed (rc {done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def _base_env(data_dir: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in _INHERITED_ENV if k in os.environ}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
            "LATEST_VERSION_CHECK": "false",
            "COLLECT_ANALYTICS": "false",
            # No error reports to Label Studio's Sentry (and no network here anyway).
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
        }
    )
    return env


def template_database_name() -> str:
    return f"kazi_ls_template_{LABEL_STUDIO_VERSION.replace('.', '_')}"


def ensure_template_database(
    postgres: PostgresServer,
    venv: Path = DEFAULT_VENV,
    name: str | None = None,
    timeout: float = 600,
) -> str:
    """A PostgreSQL database with Label Studio's migrations applied and no users, to copy.

    Migrating an empty database takes most of a first start (about a minute on two cores);
    ``CREATE DATABASE ... TEMPLATE`` copies this one in about a second. Built once per Label
    Studio version and kept; concurrent builders race safely (build under a private name, then
    rename; the loser drops its copy).
    """
    name = name or template_database_name()
    if postgres.database_exists(name):
        return name
    binary = venv / "bin" / "label-studio"
    if not binary.exists():
        raise LabelStudioError(f"{binary} missing; run scripts/label_studio.sh install")
    building = f"{name}_build_{uuid.uuid4().hex[:8]}"
    postgres.create_database(building)
    try:
        with tempfile.TemporaryDirectory(prefix="kazi-ls-migrate-") as data_dir:
            env = _base_env(Path(data_dir)) | postgres.django_env(building)
            # Every label-studio command applies pending migrations first; `version` then exits.
            done = subprocess.run(
                [str(binary), "version"],
                env=env,
                cwd=data_dir,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        if done.returncode != 0:
            raise LabelStudioError(
                f"migrating {building} failed (rc {done.returncode}):\n{done.stdout[-3000:]}\n"
                f"{done.stderr[-3000:]}"
            )
        try:
            with postgres.connect() as conn:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(building), sql.Identifier(name)
                    )
                )
        except errors.DuplicateDatabase:
            postgres.drop_database(building)
    except BaseException:
        postgres.drop_database(building)
        raise
    return name


@dataclass
class LabelStudioServer:
    """One ``label-studio start`` process on loopback.

    ``database`` names a PostgreSQL database (created if missing, from ``template_database``
    when given); ``None`` runs on a SQLite file in ``data_dir`` instead, which is only fit for a
    single annotator (it hands the same task to two). ``port=0`` picks a free port at start.
    """

    port: int = 0
    host: str = "127.0.0.1"
    # None: a temporary directory, removed by stop(). Holds the SECRET_KEY (.env) that signs
    # sessions and JWT API tokens, uploaded media and the log; keep it with its database.
    data_dir: Path | None = None
    database: str | None = DEFAULT_DATABASE
    postgres: PostgresServer = field(default_factory=PostgresServer.from_env)
    template_database: str | None = None
    # Drop the database on stop() when start() created it.
    drop_database_on_stop: bool = False
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    token: str = DEFAULT_TOKEN
    venv: Path = DEFAULT_VENV
    # More Label Studio settings (e.g. {"LOG_LEVEL": "DEBUG"}); they override the defaults.
    extra_env: dict[str, str] = field(default_factory=dict)

    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _created_database: bool = field(default=False, init=False, repr=False)
    _created_data_dir: bool = field(default=False, init=False, repr=False)

    @classmethod
    def throwaway(cls, **kwargs: Any) -> LabelStudioServer:
        """A free port, a temporary data dir and a fresh PostgreSQL database dropped on stop."""
        kwargs.setdefault("database", f"kazi_ls_{uuid.uuid4().hex[:10]}")
        kwargs.setdefault("drop_database_on_stop", True)
        return cls(**kwargs)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def binary(self) -> Path:
        return self.venv / "bin" / "label-studio"

    @property
    def log_path(self) -> Path | None:
        return self.data_dir / "label-studio.log" if self.data_dir else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def environment(self) -> dict[str, str]:
        """The whole environment the server process gets."""
        assert self.data_dir is not None, "start() sets data_dir"
        env = _base_env(self.data_dir)
        env.update(
            {
                "LABEL_STUDIO_USERNAME": self.username,
                "LABEL_STUDIO_PASSWORD": self.password,
                "LABEL_STUDIO_USER_TOKEN": self.token,
                # Applies when the organisation is created (first start on a database).
                "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
                # Workers join through the invite link only (GET /api/invite).
                "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
                # Webhooks to the engine on loopback.
                "SSRF_PROTECTION_ENABLED": "false",
                # Label Studio waits 1 s for a webhook by default and never retries; a busy
                # engine can take longer (reconciliation would still find the answer).
                "WEBHOOK_TIMEOUT": "10",
            }
        )
        if self.database:
            env.update(self.postgres.django_env(self.database))
        else:
            env.update(
                {
                    "DJANGO_DB": "sqlite",
                    "DATABASE_NAME": str(self.data_dir / "label_studio.sqlite3"),
                }
            )
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        """Launch the process and return at once; ``wait_ready`` waits for it."""
        if self.running:
            raise LabelStudioError(f"already running at {self.url}")
        if not self.binary.exists():
            raise LabelStudioError(
                f"{self.binary} missing; run scripts/label_studio.sh install "
                "(or engine.labeling.label_studio_server.ensure_installed())"
            )
        if self.port == 0:
            self.port = free_port(self.host)
        elif port_in_use(self.port, self.host):
            # Label Studio would quietly move to the next free port; refuse instead.
            raise LabelStudioError(f"port {self.port} on {self.host} is already in use")
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="kazi-label-studio-"))
            self._created_data_dir = True
        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.database and self.postgres.create_database(self.database, self.template_database):
            self._created_database = True

        assert self.log_path is not None
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    "start",
                    "--no-browser",
                    "--internal-host",
                    self.host,
                    "--port",
                    str(self.port),
                    "--enable-legacy-api-token",
                ],
                env=self.environment(),
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until ``/health`` answers and the admin token is accepted; raises with the log tail."""
        if self.process is None:
            raise LabelStudioError("not started")
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5) as http:
            while True:
                if self.process.poll() is not None:
                    raise LabelStudioError(
                        f"Label Studio exited with {self.process.returncode} during start-up; "
                        f"log tail:\n{self.log_tail()}"
                    )
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise LabelStudioError(
                        f"Label Studio did not answer {self.url}/health in {timeout:.0f} s; "
                        f"log tail:\n{self.log_tail()}"
                    )
                time.sleep(0.5)
            me = http.get("/api/current-user/whoami", headers=self.auth_headers)
        if me.status_code != 200:
            # An existing database keeps the admin and token it was first started with.
            raise LabelStudioError(
                f"Label Studio is up but rejects the admin token ({me.status_code}): "
                f"{me.text[:300]}"
            )

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the process; drop the database and data dir when this object created them."""
        if self.process is not None:
            if self.process.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    self.process.wait()
            self.process = None
        if self._created_database and self.drop_database_on_stop and self.database:
            self.postgres.drop_database(self.database)
            self._created_database = False
        if self._created_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
            self._created_data_dir = False

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def log_tail(self, max_chars: int = 4000) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return ""
        return path.read_text(errors="replace")[-max_chars:]

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
