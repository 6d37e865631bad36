"""Whose jobs ``kazi status`` and ``kazi fetch`` see, and reading them through a running API.

``--client KEY`` shows that client's jobs (the key is checked like the API checks it). Without
a key, in embedded mode the CLI belongs to the one person who owns this machine's database, so
it sees every job in it, those submitted through the API included; with a production database
it sees the local client's jobs only (``KAZI_LOCAL_CLIENT_NAME``). ``--api URL`` asks a running
server instead of the database, with the key.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from engine.bootstrap import EngineContext
from engine.cli.app import CliFailure, ExitCode
from engine.clients.service import authenticate, ensure_client
from engine.secrets import is_embedded
from engine.unit_of_work import UnitOfWork
from schemas.jobs import DeliverableList, JobDetail

CLIENT_OPTION = typer.Option(
    "--client",
    metavar="<api key>",
    envvar="KAZI_API_KEY",
    show_envvar=True,
    help="A client's API key: show that client's jobs (default: every job of an embedded setup)",
)
API_OPTION = typer.Option(
    "--api",
    metavar="<url>",
    help="Ask the running API at this URL (needs --client) instead of reading the database",
)
ClientKey = Annotated[str | None, CLIENT_OPTION]
ApiUrl = Annotated[str | None, API_OPTION]


def bad_key() -> CliFailure:
    return CliFailure("invalid or revoked API key (--client)", ExitCode.BAD_INPUT, "bad_api_key")


def _owner_of(
    uow: UnitOfWork, job_id: str, api_key: str | None, embedded: bool, local_name: str
) -> str | None:
    if api_key is not None:
        return authenticate(uow, api_key)
    if embedded:
        job = uow.jobs.get(job_id)
        if job is not None:
            return job.client_id
    return ensure_client(uow, local_name)


def client_for_job(ctx: EngineContext, job_id: str, api_key: str | None) -> str:
    """The client id to look the job up as (a job it does not own stays not found)."""
    owner = ctx.in_unit_of_work(
        _owner_of, job_id, api_key, is_embedded(ctx.settings), ctx.settings.local_client_name
    )
    if owner is None:
        raise bad_key()
    return owner


class ApiReader:
    """The two reads ``status`` and ``fetch`` need, over HTTP with the client's key."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float = 30.0) -> None:
        if not api_key:
            raise CliFailure("--api needs --client KEY", ExitCode.BAD_INPUT, "bad_input")
        if not base_url.startswith(("http://", "https://")):
            raise CliFailure(
                f"--api must be an http(s) URL (got {base_url!r})", ExitCode.BAD_INPUT, "bad_input"
            )
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )

    def __enter__(self) -> ApiReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _get(self, path: str) -> Any:
        try:
            response = self.http.get(path)
        except httpx.HTTPError as exc:
            raise CliFailure(
                f"cannot reach the API at {self.http.base_url}: {exc}", ExitCode.FAILED, "api_down"
            ) from exc
        if response.status_code == 401:
            raise bad_key()
        if response.is_error:
            body = _json_or_empty(response)
            detail = body.get("detail") if isinstance(body.get("detail"), str) else response.text
            code = body.get("code") if isinstance(body.get("code"), str) else "api_error"
            missing = response.status_code == 404
            exit_code = ExitCode.NOT_FOUND if missing else ExitCode.FAILED
            raise CliFailure(str(detail)[:500], exit_code, str(code))
        return response.json()

    def job_detail(self, job_id: str) -> JobDetail:
        return JobDetail.model_validate(self._get(f"/v1/jobs/{job_id}"))

    def deliverables(self, job_id: str) -> DeliverableList:
        return DeliverableList.model_validate(self._get(f"/v1/jobs/{job_id}/deliverables"))

    def download(self, url: str) -> bytes:
        try:
            # A signed link: the key stays with the API, never sent to the store.
            response = httpx.get(url, timeout=self.http.timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise CliFailure(
                f"download of {url} failed: {exc}", ExitCode.FAILED, "download"
            ) from exc
        return response.content


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
