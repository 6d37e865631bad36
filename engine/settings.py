"""Engine settings, read from the environment (prefix ``KAZI_``) and an optional ``.env``.

Defaults are the embedded ones, so a fresh clone runs with no server: SQLite under the per-user
data folder (``~/.local/share/kazi``; KAZI_VAR_DIR moves it),
a local-directory object store and a filesystem Celery broker. Production sets PostgreSQL,
Redis and MinIO/S3 URLs (see ``configs/example.env``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAZI_", env_file=".env", extra="ignore")

    # Embedded state (SQLite, objects, broker, secrets, logs): one fixed folder per user, so
    # every command finds it whatever the current directory.
    var_dir: Path = Field(default_factory=lambda: default_var_dir())

    # Database. Empty means the embedded SQLite file under var_dir.
    database_url: str = ""

    # Threads per API process that run request work (each holds one pooled connection while
    # it runs). More threads than this only queue on the GIL; keep it under db_pool_size.
    api_threads: int = 16
    # Pooled PostgreSQL connections per process (a new connection costs a server fork).
    db_pool_size: int = 20

    # Object store: "local" (directory) or "s3" (MinIO or any S3 endpoint).
    store_backend: str = "local"
    store_dir: Path | None = None
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "minioadmin"
    s3_secret_key: str = "minioadmin"
    s3_bucket: str = "kazi"
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    presign_expiry_seconds: int = 3600

    # Public base URL of the engine API; signed media links for the local store point here.
    # Unset, `kazi serve`/`kazi up` derive it from the address they listen on.
    public_url: str = "http://127.0.0.1:8000"
    # Client callbacks go to public https addresses only (http too in embedded mode). Host names
    # and CIDRs listed here (comma or space separated) may be private: on-premise callbacks.
    callback_allowed_hosts: str = ""
    # Secrets (see engine/secrets.py): 32+ random bytes each, required once a database URL, a
    # broker URL or the S3 store is set; embedded mode generates them under var_dir/secrets.
    # The signing secret signs media links and start links and derives each client's callback
    # secret. Keys it replaced, comma-separated, still verify the links they signed until those
    # expire (rotating it changes every client's callback secret: GET /v1/callback-secret).
    signing_secret: str = ""
    signing_secret_previous: str = ""
    # Encrypts Label Studio worker tokens at rest; older keys still decrypt (then re-encrypt).
    data_key: str = ""
    data_key_previous: str = ""

    # Celery. Empty broker means the embedded filesystem transport under var_dir.
    broker_url: str = ""
    result_backend: str = ""
    # Prefix for every broker key (Redis), so several deployments or test runs can share a server.
    broker_key_prefix: str = ""
    # Seconds before Redis hands an unacknowledged task (its worker died) to another worker.
    broker_visibility_timeout: int = 3600

    # Pipeline recovery. A stage whose worker shows no life (heartbeat) for this long is sent
    # again by the beat, whatever the broker's visibility timeout.
    stage_stall_seconds: int = 120
    # How often the beat looks for stalled stages, and relays outbox messages still unsent
    # (broker down at commit, process killed between commit and send).
    stall_sweep_seconds: int = 15
    outbox_relay_seconds: int = 10

    # Label Studio. An empty token means jobs are published to the worker API only.
    label_studio_url: str = "http://127.0.0.1:8080"
    label_studio_token: str = ""
    # Where workers' browsers reach Label Studio, when not the same as label_studio_url.
    label_studio_public_url: str = ""
    # Base URL Label Studio posts webhooks to (default: public_url).
    webhook_base_url: str = ""
    # Shared secret Label Studio sends with every webhook (header X-Kazi-Webhook-Secret).
    webhook_secret: str = ""
    # How often beat pulls annotations the webhooks may have missed.
    reconcile_seconds: int = 300
    # Tasks imported per Label Studio request.
    label_studio_import_batch: int = 500

    # Distribution.
    lease_seconds: int = 900
    # Trainees see gold tasks at least this often, whatever the job's gold ratio.
    trainee_gold_ratio: float = 0.2

    # QA: results under this agreement go to a reviewer, plus a random sample of the rest.
    review_agreement_threshold: float = 0.75
    review_sample_rate: float = 0.05
    # Worker tiers (see engine/domain/worker_skill.py): skill bounds and answers needed.
    skill_prior_mean: float = 0.7
    skill_prior_strength: float = 4.0
    skill_qualify_lower: float = 0.80
    skill_qualify_min_answers: int = 20
    skill_reviewer_lower: float = 0.92
    skill_reviewer_min_answers: int = 50
    skill_pause_upper: float = 0.5
    skill_pause_min_answers: int = 10

    # Intake limits.
    max_upload_bytes: int = 2 * 1024**3
    max_files_per_job: int = 1000
    max_image_pixels: int = 100_000_000

    # Splitting defaults (a job spec may override the per-job ones).
    max_segment_seconds: float = 30.0
    segment_overlap_seconds: float = 0.5
    tile_threshold_px: int = 2048
    tile_size_px: int = 1024
    tile_overlap_px: int = 128

    # Local client used by the CLI when it runs without an API server.
    local_client_name: str = "local"

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    worker_concurrency: int | None = Field(default=None, description="None: one process per core")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'kazi.sqlite3').resolve()}"

    def resolved_store_dir(self) -> Path:
        return (self.store_dir or self.var_dir / "objects").resolve()

    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    def resolved_result_backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        return f"db+sqlite:///{(self.var_dir / 'celery-results.sqlite3').resolve()}"

    def signing_keys(self) -> tuple[str, ...]:
        """The keys a signed link may carry: the current one first, then the previous ones."""
        previous = (k.strip() for k in self.signing_secret_previous.split(","))
        return (self.signing_secret, *(k for k in previous if k))

    def webhook_url(self) -> str:
        """Where Label Studio posts annotation webhooks."""
        return (self.webhook_base_url or self.public_url).rstrip("/") + "/v1/hooks/label-studio"

    def broker_folder(self) -> Path:
        return (self.var_dir / "broker").resolve()


def default_var_dir() -> Path:
    """The per-user data folder (``~/.local/share/kazi`` on Linux) unless KAZI_VAR_DIR is set."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("kazi", appauthor=False))


def listen_public_url(settings: Settings, host: str, port: int) -> str:
    """The public URL of an API listening on ``host:port``: KAZI_PUBLIC_URL when it is set,
    else that address (a wildcard bind is reached on the loopback address here)."""
    if "public_url" in settings.model_fields_set:
        return settings.public_url
    reachable = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
    if ":" in reachable and not reachable.startswith("["):
        reachable = f"[{reachable}]"
    return f"http://{reachable}:{port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
