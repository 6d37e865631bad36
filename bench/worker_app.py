"""Benchmark: what a trainee's phone downloads, and waits, before it can edit a task.

One run starts everything it measures, on embedded defaults in a temporary folder (like the
demo): the engine (``kazi serve`` and a pipeline worker), a throwaway Label Studio, one real
transcription job (``jfk.flac`` from engine/demo/samples/speech, drafted by the real
faster-whisper model, published to Label Studio). Then the same leased task is opened, each time
in a fresh browser context (cold cache, 360x740 phone viewport, service workers blocked so the
first visit is measured as it loads), on a link throttled through the Chrome DevTools Protocol
(``Network.emulateNetworkConditions``: ``--kbps`` each way, ``--latency-ms`` per request):

* light editor: the engine's ``/app/task`` (the small Opus copy, the draft in a text box);
* full editor: ``/app/task?editor=full`` (Label Studio's open-source frontend bundle, served
  by the engine);
* Label Studio's own task page ``/projects/N/data?task=M``, logged in (the session cookie is
  set before the page loads, so the login page's assets are not in the cold cache).

Bytes are CDP's ``encodedDataLength`` per request (what DevTools shows as transferred: headers
and compressed bodies), split into audio and the rest. *Editable* is the time from the start of
navigation until the draft is in an editable text box (light) or the editor has rendered the
draft and its controls (full editor, Label Studio); *audio ready* until the audio element can
play (``readyState >= 3``). Figures are the median of ``--repeat`` runs. Goals (issue 14): the
light editor needs >= 10x fewer bytes than Label Studio's page and is editable in < 3 s.

    .venv/bin/python bench/worker_app.py [--kbps 400] [--latency-ms 400] [--repeat 1] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
CLIP = REPO_ROOT / "engine" / "demo" / "samples" / "speech" / "jfk.flac"
TARGET_BYTES_RATIO = 10.0
TARGET_EDITABLE_SECONDS = 3.0
PAGE_TIMEOUT_MS = 300_000

# The light editor: the text box holds the draft and can be typed in.
LIGHT_EDITABLE = """() => {
  const t = document.querySelector('#answer-text');
  return !!t && !t.disabled && !t.readOnly && t.value.trim().length > 0
    && !!document.querySelector('#answer-form');
}"""
# Label Studio's frontend (in the engine's full editor and in Label Studio's page) has rendered
# the task: the draft's text region and the editor's controls are on the page.
LSF_EDITABLE = """() => !!document.querySelector('[data-testid="textarea-region"]')
  && !!document.querySelector('.lsf-audio, [data-testid="waveform"], audio, canvas')"""
AUDIO_READY = """() => [...document.querySelectorAll('audio, video')]
  .some(a => a.readyState >= 3)"""


@dataclass(frozen=True)
class Sample:
    total_bytes: int
    audio_bytes: int
    other_bytes: int
    requests: int
    audio_requests: int
    editable_seconds: float
    audio_ready_seconds: float | None


# -- the stack ------------------------------------------------------------------------------


def _label_studio(stack: ExitStack) -> Any:
    from engine.labeling.label_studio_server import (
        LabelStudioServer,
        PostgresServer,
        ensure_installed,
        ensure_template_database,
    )

    ensure_installed()
    pg = PostgresServer.from_env()
    try:
        with pg.connect():
            pass
        server = LabelStudioServer.throwaway(
            postgres=pg, template_database=ensure_template_database(pg)
        )
    except Exception:
        server = LabelStudioServer(database=None, data_dir=None)  # SQLite: one user is enough
    server.start()
    stack.callback(server.stop)
    server.wait_ready(timeout=300)
    return server


@dataclass(frozen=True)
class Stack:
    engine_url: str
    ls: Any  # LabelStudioServer
    app_cookie: dict[str, Any]
    ls_cookies: list[dict[str, Any]]
    ls_task_path: str


def start_stack(stack: ExitStack, var: Path) -> Stack:
    from engine.demo.run_demo import run_environment

    print("starting Label Studio ...", file=sys.stderr)
    ls = _label_studio(stack)
    port = _free_port()
    engine_url = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            **run_environment(var),
            "KAZI_PUBLIC_URL": engine_url,
            "KAZI_LABEL_STUDIO_URL": ls.url,
            "KAZI_LABEL_STUDIO_TOKEN": ls.token,
            "KAZI_REVIEW_SAMPLE_RATE": "0",
        }
    )
    from engine.bootstrap import get_context
    from engine.cli.embedded_worker import worker_command
    from engine.demo.child_processes import child_process, wait_http
    from engine.pipeline.celery_config import ALL_QUEUES

    env = {**os.environ}
    api_log = var / "api.log"
    serve = [sys.executable, "-m", "engine.cli.main", "serve", "--port", str(port)]
    api = stack.enter_context(child_process(serve, env, api_log, cwd=REPO_ROOT))
    worker_log = var / "worker.log"
    stack.enter_context(
        child_process(worker_command(list(ALL_QUEUES), 2, "INFO"), env, worker_log, cwd=REPO_ROOT)
    )
    wait_http(f"{engine_url}/health", api, api_log, timeout=120)
    ctx = get_context()
    print("submitting and drafting the job ...", file=sys.stderr)
    job_id = _drafted_job(ctx)
    handle = f"bench-{uuid.uuid4().hex[:8]}"
    code = _worker_with_code(ctx, handle)
    return Stack(
        engine_url,
        ls,
        _app_session_cookie(engine_url, code),
        _ls_session_cookies(ls),
        _ls_task_path(ls, job_id),
    )


def _free_port() -> int:
    from engine.labeling.label_studio_server import free_port

    return free_port()


def _drafted_job(ctx: Any, timeout: float = 600) -> str:
    from engine.clients.service import ensure_client
    from engine.jobs.intake import IncomingFile, submit_job
    from schemas.jobs import JobSpec

    client_id = ctx.in_unit_of_work(ensure_client, ctx.settings.local_client_name)
    job_id: str = submit_job(
        ctx.uow(), ctx.store, client_id=client_id,
        spec=JobSpec(kind="transcription", overlap=1, gold_ratio=0.0),  # type: ignore[arg-type]
        files=[IncomingFile(CLIP.name, io.BytesIO(CLIP.read_bytes()))],
        max_upload_bytes=ctx.settings.max_upload_bytes, max_files=10,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.uow() as uow:
            job = uow.jobs.get(job_id)
            stage = job.stage if job else "?"
        if stage == "labeling":
            return job_id
        if stage == "failed":
            raise RuntimeError(f"job {job_id} failed")
        time.sleep(0.5)
    raise RuntimeError(f"job {job_id} was not drafted and published in {timeout} s")


def _worker_with_code(ctx: Any, handle: str) -> str:
    """A trainee without a Label Studio account or training record, and a login code."""
    from engine.worker_app.sessions import issue_login_code
    from engine.workforce.service import register_worker

    def register(uow: Any) -> str:
        register_worker(uow, handle, "trainee")
        code, _ = issue_login_code(uow, handle)
        return code

    code: str = ctx.in_unit_of_work(register)
    return code


def _app_session_cookie(engine_url: str, code: str) -> dict[str, Any]:
    """Log in through the app's form and hand the session cookie to the browser contexts."""
    with httpx.Client(base_url=engine_url, timeout=30) as http:
        response = http.post("/app/login", data={"code": code})
        if response.status_code not in (200, 303) or "kazi_app" not in response.cookies:
            raise RuntimeError(f"app login failed: {response.status_code} {response.text[:300]}")
        token = response.cookies["kazi_app"]
    host = engine_url.split("://", 1)[1].split(":", 1)[0]
    return {"name": "kazi_app", "value": token, "domain": host, "path": "/app", "httpOnly": True}


def _ls_session_cookies(ls: Any) -> list[dict[str, Any]]:
    """Label Studio's session after its real login form (the admin: any member sees it all)."""
    with httpx.Client(base_url=ls.url, timeout=60) as http:
        http.get("/user/login/").raise_for_status()
        response = http.post(
            "/user/login/",
            data={"email": ls.username, "password": ls.password,
                  "csrfmiddlewaretoken": http.cookies["csrftoken"]},
            headers={"Referer": f"{ls.url}/user/login/"},
        )  # fmt: skip
        if response.status_code != 302:
            raise RuntimeError(f"Label Studio login failed ({response.status_code})")
        return [{"name": c.name, "value": c.value or "", "url": ls.url} for c in http.cookies.jar]


def _ls_task_path(ls: Any, job_id: str) -> str:
    headers = {"Authorization": f"Token {ls.token}"}
    with httpx.Client(base_url=ls.url, headers=headers, timeout=60) as http:
        projects = http.get("/api/projects", params={"page_size": 1000}).json()
        projects = projects.get("results", projects) if isinstance(projects, dict) else projects
        ours = [p for p in projects if job_id in (p.get("description") or p.get("title") or "")]
        if not ours:
            raise RuntimeError(f"no Label Studio project for job {job_id}")
        project_id = int(ours[0]["id"])
        tasks = http.get("/api/tasks", params={"project": project_id, "page_size": 1}).json()
        tasks = tasks.get("tasks", tasks) if isinstance(tasks, dict) else tasks
        return f"/projects/{project_id}/data?task={int(tasks[0]['id'])}"


# -- measuring ------------------------------------------------------------------------------


def measure(
    browser: Any,
    url: str,
    cookies: list[dict[str, Any]],
    editable_js: str,
    kbps: float,
    latency_ms: float,
    shot: Path | None = None,
) -> Sample:
    from tests.browser import TransferMeter, is_audio, mobile_context_options, throttle

    context = browser.new_context(**mobile_context_options(service_workers="block"))
    try:
        context.add_cookies(cookies)
        page = context.new_page()
        meter = TransferMeter(page)
        throttle(page, kbps=kbps, latency_ms=latency_ms)
        started = time.monotonic()
        page.goto(url, wait_until="commit", timeout=PAGE_TIMEOUT_MS)
        page.wait_for_function(editable_js, timeout=PAGE_TIMEOUT_MS, polling=50)
        editable = time.monotonic() - started
        audio_ready: float | None = None
        try:
            page.wait_for_function(AUDIO_READY, timeout=120_000, polling=50)
            audio_ready = time.monotonic() - started
        except Exception:
            audio_ready = None
        meter.settle(page, quiet_ms=1500, timeout_ms=PAGE_TIMEOUT_MS)
        if shot is not None:
            page.screenshot(path=str(shot))
        transfers = meter.transfers()
        audio = sum(t.bytes for t in transfers if is_audio(t))
        total = sum(t.bytes for t in transfers)
        audio_requests = sum(1 for t in transfers if is_audio(t))
        return Sample(
            total, audio, total - audio, len(transfers), audio_requests, editable, audio_ready
        )
    finally:
        context.close()


def _median(samples: list[Sample], pick: Callable[[Sample], float | None]) -> float | None:
    values = [v for v in (pick(s) for s in samples) if v is not None]
    return statistics.median(values) if values else None


def summarise(samples: list[Sample]) -> dict[str, Any]:
    return {
        "total_bytes": _median(samples, lambda s: s.total_bytes),
        "audio_bytes": _median(samples, lambda s: s.audio_bytes),
        "other_bytes": _median(samples, lambda s: s.other_bytes),
        "requests": _median(samples, lambda s: s.requests),
        "audio_requests": _median(samples, lambda s: s.audio_requests),
        "editable_seconds": _median(samples, lambda s: s.editable_seconds),
        "audio_ready_seconds": _median(samples, lambda s: s.audio_ready_seconds),
        "runs": [asdict(s) for s in samples],
    }


def _kb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.1f}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_table(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"worker app vs Label Studio, cold cache, {args.kbps:g} kb/s each way + "
        f"{args.latency_ms:g} ms latency (CDP), 360x740, median of {args.repeat}"
    )
    ls = rows["Label Studio task page"]
    header = f"{'page':<26} {'KB total':>9} {'KB audio':>9} {'KB rest':>8} {'reqs':>5}"
    print(header + f" {'editable s':>10} {'audio s':>8} {'LS/this':>8}")
    for name, row in rows.items():
        ratio = ls["total_bytes"] / row["total_bytes"] if row["total_bytes"] else float("inf")
        print(
            f"{name:<26} {_kb(row['total_bytes']):>9} {_kb(row['audio_bytes']):>9}"
            f" {_kb(row['other_bytes']):>8} {row['requests']:>5.0f}"
            f" {_s(row['editable_seconds']):>10} {_s(row['audio_ready_seconds']):>8}"
            f" {ratio:>7.1f}x"
        )
    light = rows["light editor"]
    full = rows["full editor"]
    ratio = ls["total_bytes"] / light["total_bytes"]
    print(
        f"target light editor >= {TARGET_BYTES_RATIO:g}x fewer bytes than Label Studio's page: "
        f"{ratio:.1f}x {'PASS' if ratio >= TARGET_BYTES_RATIO else 'FAIL'}"
    )
    editable = light["editable_seconds"]
    print(
        f"target light editor editable < {TARGET_EDITABLE_SECONDS:g} s: {editable:.2f} s "
        f"{'PASS' if editable < TARGET_EDITABLE_SECONDS else 'FAIL'}"
    )
    print(
        f"light editor page without audio: {_kb(light['other_bytes'])} KB (budget 60 KB); "
        f"full editor vs light: {full['total_bytes'] / light['total_bytes']:.1f}x the bytes, "
        f"{full['editable_seconds'] / editable:.1f}x the time to editable"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kbps", type=float, default=400.0, help="kilobits per second each way")
    parser.add_argument("--latency-ms", type=float, default=400.0)
    parser.add_argument("--repeat", type=int, default=1, help="cold loads per page (median)")
    parser.add_argument(
        "--screenshots", type=Path, default=None, help="a folder for one screenshot per page"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()

    from tests.browser import launch_chromium

    with tempfile.TemporaryDirectory(prefix="kazi-bench-app-") as tmp, ExitStack() as stack:
        stack_info = start_stack(stack, Path(tmp))
        app_url = stack_info.engine_url
        pages = {
            "light editor": (f"{app_url}/app/task", [stack_info.app_cookie], LIGHT_EDITABLE),
            "full editor": (
                f"{app_url}/app/task?editor=full",
                [stack_info.app_cookie],
                LSF_EDITABLE,
            ),
            "Label Studio task page": (
                f"{stack_info.ls.url}{stack_info.ls_task_path}",
                stack_info.ls_cookies,
                LSF_EDITABLE,
            ),
        }
        rows: dict[str, dict[str, Any]] = {}
        with launch_chromium() as browser:
            for name, (url, cookies, editable_js) in pages.items():
                print(f"measuring {name}: {url}", file=sys.stderr)
                samples = []
                for i in range(args.repeat):
                    shot = None
                    if args.screenshots is not None and i == 0:
                        args.screenshots.mkdir(parents=True, exist_ok=True)
                        slug = name.lower().replace(" ", "-").replace("'", "")
                        shot = args.screenshots / f"bench-worker-app-{slug}.png"
                    samples.append(
                        measure(
                            browser, url, cookies, editable_js, args.kbps, args.latency_ms, shot
                        )  # fmt: skip
                    )
                rows[name] = summarise(samples)
        print_table(rows, args)
        if args.json:
            print(json.dumps({"kbps": args.kbps, "latency_ms": args.latency_ms, "rows": rows}))


if __name__ == "__main__":
    main()
