"""The main job, end to end, on embedded defaults plus a real Label Studio for staff.

Real recordings (the samples in engine/demo/samples/speech, or ``--data``) and drawn images
are submitted, pre-drafted and published (Label Studio holds the jobs' projects, for programme
staff). Simulated trainee workers with differing error rates work through the engine's worker
app (``/app``), as a phone's browser does: each logs in with a one-time code (no Label Studio
account), goes through the training path (practice items with feedback, then the
qualification set) and, once qualified, answers tasks (gold tasks included; one careless
worker). Answers are merged, scored, reviewed by a simulated QA reviewer through the review API,
and assembled; the deliverables, the invoice and the quality report are fetched, and the crowd
is paid (engine/demo/demo_pay.py). Each run keeps its own state in a fresh folder
(run_environment).
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.demo.child_processes import child_process, wait_http
from engine.demo.demo_pay import BOXES_PAY, TRANSCRIPTION_PAY, Payee, fund_client

STAGES = ["received", "splitting", "split", "drafting", "drafted", "publishing", "labeling",
          "scoring", "reviewing", "assembling", "delivered"]  # fmt: skip


@dataclass(frozen=True)
class Trainee:
    profile: Any  # WorkerProfile
    worker_id: str
    login_code: str  # one use: the simulated phone redeems it for a session cookie


@dataclass
class DemoJob:
    name: str
    kind: str
    job_id: str = ""
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)  # task id -> true answer
    references: dict[str, str] = field(default_factory=dict)  # source filename -> reference


def _free_port() -> int:
    from engine.labeling.label_studio_server import free_port

    return free_port()


def _postgres_or_none():  # type: ignore[no-untyped-def]
    from engine.labeling.label_studio_server import PostgresServer

    pg = PostgresServer.from_env()
    try:
        with pg.connect():
            return pg
    except Exception:
        return None


def _clip_references(speech: Path) -> list[tuple[Path, str]]:
    from engine.asr.recording_eval import speech_clips

    return speech_clips(speech)


def run_demo(data_dir: Path, seed: int = 7, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    from engine.settings import get_settings

    var = _run_dir(get_settings().var_dir)
    api_port = _free_port()
    env_extra = {
        **run_environment(var),
        "KAZI_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        # Drafts and reviews are deterministic enough for a demo; a 10 % sample still shows QA.
        "KAZI_REVIEW_SAMPLE_RATE": os.environ.get("KAZI_REVIEW_SAMPLE_RATE", "0.1"),
    }
    with ExitStack() as stack:
        # Registered first, so it runs last.
        stack.callback(lambda: console.print(f"teardown done; this run's state stays in {var}"))
        ls = _start_label_studio(stack, var, console)
        env_extra |= {"KAZI_LABEL_STUDIO_URL": ls.url, "KAZI_LABEL_STUDIO_TOKEN": ls.token}
        os.environ.update(env_extra)
        get_settings.cache_clear()
        from engine.bootstrap import get_context

        get_context.cache_clear()
        ctx = get_context()
        env = {**os.environ}
        api_log, worker_log = var / "demo-api.log", var / "demo-worker.log"
        api = stack.enter_context(child_process(
            [sys.executable, "-m", "engine.cli.main", "serve", "--port", str(api_port)],
            env, api_log))  # fmt: skip
        _say_on_exit(stack, console, f"stopping the engine API (port {api_port})")
        from engine.cli.embedded_worker import worker_command
        from engine.pipeline.celery_config import ALL_QUEUES as QUEUES

        stack.enter_context(child_process(worker_command(list(QUEUES), 2, "INFO"), env, worker_log))
        _say_on_exit(stack, console, "stopping the pipeline worker")
        console.print(f"this run's state (database, objects, logs): {var}")
        wait_http(f"http://127.0.0.1:{api_port}/health", api, api_log)
        console.print(f"engine API on http://127.0.0.1:{api_port} (log {api_log}), "
                      f"worker log {worker_log}")  # fmt: skip

        training = _seed_training(ctx, data_dir, console)
        crowd, reviewer_key, payees = _register_crowd(ctx, seed, console)
        jobs = _submit_jobs(ctx, data_dir)
        with _progress(console) as progress:
            bars = {
                j.name: progress.add_task(
                    f"{j.name} ({j.job_id[:8]})", total=len(STAGES), stage="received"
                )
                for j in jobs
            }
            stop = threading.Event()
            watcher = threading.Thread(target=_watch, args=(ctx, jobs, progress, bars, stop))
            watcher.start()
            try:
                _wait_stage(ctx, jobs, {"labeling"})
                for job in jobs:
                    _fill_truth(ctx, job)
                answered = _crowd_answers(api_port, crowd, jobs, training, seed)
                _review(api_port, reviewer_key, jobs, ctx)
                _wait_stage(ctx, jobs, {"delivered"}, timeout=600)
            finally:
                stop.set()
                watcher.join()
        _report_trainees(ctx, crowd, answered, ls.url, console)
        summary = _summarise(ctx, jobs, var, console)
        summary["worker_app_answers"] = answered  # handle -> answers filed through /app
        from engine.demo.demo_pay import pay_the_crowd

        summary["pay"] = pay_the_crowd(
            ctx, payees, f"http://127.0.0.1:{api_port}", var / "pay", console
        )
        return summary


def run_environment(run_dir: Path) -> dict[str, str]:
    """The settings of one demo run: embedded defaults, all state in ``run_dir``. Each run gets
    its own (database, objects, broker): its Label Studio is thrown away at its end, so Label
    Studio ids an earlier run recorded must never meet this run's."""
    return {
        "KAZI_VAR_DIR": str(run_dir),
        "KAZI_DATABASE_URL": "",
        "KAZI_BROKER_URL": "",
        "KAZI_RESULT_BACKEND": "",
        "KAZI_STORE_BACKEND": "local",
        "KAZI_STORE_DIR": str(run_dir / "objects"),
        # The demo pays its crowd at the end: no hold period on earnings.
        "KAZI_PAY_HOLD_DAYS": "0",
    }


def _run_dir(var_root: Path) -> Path:
    """A fresh folder for one demo run under ``var_root/demo``, named by its start time."""
    runs = var_root.resolve() / "demo"
    runs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for n in range(1000):
        path = runs / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"no free run folder under {runs}")


def _say_on_exit(stack: ExitStack, console: Console, message: str) -> None:
    """Teardown runs in reverse; each step says what it is doing (stopping can take seconds)."""
    stack.callback(lambda: console.print(f"[dim]teardown: {message} ...[/dim]"))


def _start_label_studio(stack: ExitStack, var: Path, console: Console):  # type: ignore[no-untyped-def]
    from engine.labeling.label_studio_server import (
        LabelStudioServer,
        ensure_installed,
        ensure_template_database,
    )

    console.print("Label Studio: installing into .venv-labelstudio if needed ...")
    ensure_installed()
    pg = _postgres_or_none()
    if pg is not None:
        console.print("Label Studio: starting on PostgreSQL (copy of a migrated template) ...")
        server = LabelStudioServer.throwaway(
            postgres=pg, template_database=ensure_template_database(pg)
        )
    else:
        console.print("Label Studio: no PostgreSQL on 127.0.0.1:5432; starting on SQLite "
                      "(about a minute the first time) ...")  # fmt: skip
        server = LabelStudioServer(database=None, data_dir=None)
    server.start()
    stack.callback(server.stop)
    _say_on_exit(stack, console, f"stopping Label Studio at {server.url} and deleting its data")
    server.wait_ready(timeout=300)
    console.print(f"Label Studio ready at {server.url} (staff only: the jobs' projects; "
                  "trainees work in the engine's app)")  # fmt: skip
    return server


def _register_crowd(ctx, seed: int, console: Console):  # type: ignore[no-untyped-def]
    """The simulated trainees: engine workers with a one-time login code for the worker app
    (no Label Studio account), each on the training path when the engine has a qualification
    set (what ``kazi workers add`` does for a new trainee)."""
    from engine.simulation.error_models import default_crowd
    from engine.training.service import enrol_new_trainee
    from engine.worker_app.sessions import issue_login_code
    from engine.workforce.service import register_worker

    tag = f"{int(time.time()) % 100000:05d}"
    crowd = []
    payees = []
    table = Table(
        title="simulated trainee workers (worker app, login codes; no Label Studio account)"
    )
    for col in ("handle", "tier", "word errors", "label errors", "training"):
        table.add_column(col)

    def enrol(uow, profile):  # type: ignore[no-untyped-def]
        w = register_worker(uow, profile.handle, profile.tier)
        stage = enrol_new_trainee(uow, w.id)
        code, _ = issue_login_code(uow, profile.handle)
        return w, code, stage

    for profile in default_crowd(seed, handle_prefix=f"demo{tag}"):
        w, code, stage = ctx.in_unit_of_work(enrol, profile)
        crowd.append(Trainee(profile, w.id, code))
        payees.append(Payee(profile.handle, w.id, w.api_key))
        table.add_row(profile.handle, profile.tier, f"{profile.word_error_rate:.0%}",
                      f"{profile.label_error_rate:.0%}",
                      str(stage.value if stage else "none"))  # fmt: skip
    reviewer = ctx.in_unit_of_work(register_worker, f"demo{tag}-qa", "reviewer")
    payees.append(Payee(reviewer.handle, reviewer.id, reviewer.api_key))
    console.print(table)
    console.print(
        f"[dim]trainees log in at {ctx.settings.public_url}/app/login with their code (staff "
        "hand them out: kazi workers login-code HANDLE --qr FILE.svg)[/dim]"
    )
    return crowd, reviewer.api_key, payees


# Training items from the samples: short clips with their references (staff would use
# `kazi training import FOLDER`). Practice needs 3 done; qualification is every item of its set.
PRACTICE_CLIPS = ("jfk.flac", "1089-134686-0000.flac", "1089-134686-0001.flac")
QUALIFICATION_CLIPS = ("1089-134691-0000.flac", "1089-134691-0001.flac")


def _seed_training(ctx, data_dir: Path, console: Console) -> dict[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Practice and qualification items from the sample clips; returns item id -> expected
    answer (what the simulated trainees are "told" by their ears)."""
    from engine.domain.job_stage import JobKind
    from engine.domain.training_path import TrainingSet
    from engine.training.media import store_training_media
    from engine.training.service import NewTrainingItem, add_item

    clips = dict((p.name, (p, ref)) for p, ref in _clip_references(data_dir / "speech"))
    expected: dict[int, dict[str, Any]] = {}
    for set_name, names in ((TrainingSet.PRACTICE, PRACTICE_CLIPS),
                            (TrainingSet.QUALIFICATION, QUALIFICATION_CLIPS)):  # fmt: skip
        for name in names:
            if name not in clips:
                continue
            path, reference = clips[name]
            stored = store_training_media(ctx.store, JobKind.TRANSCRIPTION, set_name, path)
            item = ctx.in_unit_of_work(add_item, NewTrainingItem(
                JobKind.TRANSCRIPTION, set_name, stored.media_key, stored.lowres_media_key,
                stored.source_name, {"text": reference}))  # fmt: skip
            expected[int(item.id)] = {"text": reference}
    console.print(f"training: {len(expected)} items (practice {', '.join(PRACTICE_CLIPS)}; "
                  f"qualification {', '.join(QUALIFICATION_CLIPS)})")  # fmt: skip
    return expected


def _submit_jobs(ctx, data_dir: Path) -> list[DemoJob]:  # type: ignore[no-untyped-def]
    from engine.clients.service import ensure_client
    from engine.demo.sample_images import sample_images
    from engine.domain.job_stage import JobKind
    from engine.jobs.intake import IncomingFile, submit_job
    from schemas.jobs import JobSpec, PayRate

    client_id = ctx.in_unit_of_work(ensure_client, ctx.settings.local_client_name)
    fund_client(ctx, client_id)
    clips = _clip_references(data_dir / "speech")
    if not clips:
        raise RuntimeError(f"no speech clips under {data_dir / 'speech'}")
    talk = DemoJob("transcripts", "transcription", references={p.name: r for p, r in clips})
    gold_clip = next(p for p, _ in clips if p.name == "1089-134691-0000.flac")
    spec = JobSpec(kind=JobKind.TRANSCRIPTION, overlap=3, gold_ratio=0.2,
                   pay_rate=PayRate.model_validate(TRANSCRIPTION_PAY),
                   gold=[{"filename": gold_clip.name, "text": talk.references[gold_clip.name]}])  # type: ignore[list-item]  # fmt: skip
    talk.job_id = submit_job(
        ctx.uow(), ctx.store, client_id=client_id, spec=spec,
        files=[IncomingFile(p.name, io.BytesIO(p.read_bytes())) for p, _ in clips],
        max_upload_bytes=ctx.settings.max_upload_bytes, max_files=100,
    )  # fmt: skip
    images = sample_images()
    shapes = DemoJob(
        "boxes", "image_boxes", references={i.filename: json.dumps(i.boxes) for i in images}
    )
    spec = JobSpec(kind=JobKind.IMAGE_BOXES, labels=["circle", "square"], overlap=3, gold_ratio=0.2,
                   pay_rate=PayRate.model_validate(BOXES_PAY),
                   gold=[{"filename": "yard.png", "boxes": list(images[1].boxes)}])  # type: ignore[list-item]  # fmt: skip
    shapes.job_id = submit_job(
        ctx.uow(), ctx.store, client_id=client_id, spec=spec,
        files=[IncomingFile(i.filename, io.BytesIO(i.png)) for i in images],
        max_upload_bytes=ctx.settings.max_upload_bytes, max_files=100,
    )  # fmt: skip
    return [talk, shapes]


def _fill_truth(ctx, job: DemoJob) -> None:  # type: ignore[no-untyped-def]
    from engine.demo.sample_images import boxes_in_tile
    from engine.demo.segment_truth import segment_references
    from engine.domain.draft import DraftWord

    with ctx.uow() as uow:
        repo = uow.jobs
        for source in repo.sources(job.job_id):
            tasks = [t for t, s in repo.tasks_page(job.job_id, 10_000, 0) if s.id == source.id]
            if job.kind == "transcription":
                words: list[DraftWord] = []
                for t in tasks:
                    d = uow.drafts.latest_for_task(t.id)
                    words += [DraftWord.from_json(w) for w in (d.words if d else [])]
                parts = segment_references(
                    job.references[source.filename],
                    [(t.id, t.start_seconds or 0.0, t.end_seconds or 0.0) for t in tasks], words,
                )  # fmt: skip
                job.truth |= {t: {"text": text} for t, text in parts.items()}
            else:
                boxes = tuple(json.loads(job.references[source.filename]))
                for t in tasks:
                    tile = (t.box_x or 0, t.box_y or 0, t.box_w or 0, t.box_h or 0)
                    job.truth[t.id] = {"boxes": boxes_in_tile(boxes, tile)}


def _crowd_answers(
    api_port: int,
    crowd: list[Trainee],
    jobs: list[DemoJob],
    training: dict[int, dict[str, Any]],
    seed: int,
) -> dict[str, int]:
    """Each trainee works through the worker app in its own thread, like a phone's browser:
    login code, training path, then tasks until none is left for them."""
    from engine.simulation.crowd_driver import answer_via_worker_app

    truth = {t: a for j in jobs for t, a in j.truth.items()}

    def truth_for(task: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return truth.get(task["task_id"])

    def training_truth_for(item: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return training.get(int(item["item_id"]))

    errors: list[BaseException] = []
    answered: dict[str, int] = {}

    def work(i: int, trainee: Trainee) -> None:
        try:
            answered[trainee.profile.handle] = answer_via_worker_app(
                f"http://127.0.0.1:{api_port}", trainee.login_code, trainee.profile, truth_for,
                random.Random(seed * 100 + i), training_truth_for=training_truth_for,
            )  # fmt: skip
        except BaseException as exc:  # surfaced after the join
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(crowd)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return answered


def _report_trainees(  # type: ignore[no-untyped-def]
    ctx, crowd: list[Trainee], answered: dict[str, int], ls_url: str, console: Console
) -> None:
    """Who used what: the trainees worked in the app; Label Studio only held the projects."""
    from engine.training.service import training_summary

    table = Table(title="what each trainee did in the worker app (/app)")
    for col in ("handle", "training stage", "tasks answered"):
        table.add_column(col)
    for trainee in crowd:
        summary = ctx.in_unit_of_work(training_summary, trainee.worker_id)
        stage = getattr(summary, "stage", None)
        table.add_row(trainee.profile.handle, str(getattr(stage, "value", stage) or "none"),
                      str(answered.get(trainee.profile.handle, 0)))  # fmt: skip
    console.print(table)
    console.print(
        f"trainees used the worker app only; Label Studio ({ls_url}) held the jobs' projects "
        "the engine published, for staff; no trainee has a Label Studio account"
    )


def _review(api_port: int, key: str, jobs: list[DemoJob], ctx, timeout: float = 300) -> None:  # type: ignore[no-untyped-def]
    """A careful QA reviewer: accepts a right result, corrects a wrong one."""
    from engine.domain.answer_scoring import score_answer
    from engine.domain.job_stage import JobKind

    kinds = {j.job_id: JobKind(j.kind) for j in jobs}
    truth = {t: a for j in jobs for t, a in j.truth.items()}
    auth = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers=auth, timeout=30) as http:
        while time.monotonic() < deadline:
            resp = http.post("/v1/review/next", json={})
            if resp.status_code == 204:
                if _all_past_review(ctx, jobs):
                    return
                time.sleep(0.5)
                continue
            resp.raise_for_status()
            lease = resp.json()
            expected = truth[lease["task_id"]]
            kind = kinds[lease["job_id"]]
            # Boxes within a few pixels (IoU ~0.8) are right; text must match after normalising.
            good = score_answer(kind, lease["consensus"], expected).score >= (
                0.95 if kind is JobKind.TRANSCRIPTION else 0.8
            )
            body: dict[str, Any] = {"client_review_id": lease["lease_id"],
                                    "decision": "accept" if good else "correct"}  # fmt: skip
            if not good:
                body["answer"] = expected
            done = http.post(f"/v1/review/{lease['lease_id']}/submit", json=body)
            if done.status_code != 409:  # 409: the result was settled meanwhile
                done.raise_for_status()
    raise RuntimeError("review did not finish in time")


def _stages(ctx, jobs: list[DemoJob]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with ctx.uow() as uow:
        return {j.job_id: uow.jobs.get(j.job_id).stage for j in jobs}  # type: ignore[union-attr]


def _all_past_review(ctx, jobs: list[DemoJob]) -> bool:  # type: ignore[no-untyped-def]
    return all(s in ("assembling", "delivered", "failed") for s in _stages(ctx, jobs).values())


def _wait_stage(ctx, jobs: list[DemoJob], wanted: set[str], timeout: float = 900) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stages = _stages(ctx, jobs)
        if "failed" in stages.values():
            raise RuntimeError(f"a demo job failed: {stages}")
        if all(STAGES.index(s) >= min(STAGES.index(w) for w in wanted) for s in stages.values()):
            return
        time.sleep(0.5)
    raise RuntimeError(f"jobs did not reach {wanted}: {_stages(ctx, jobs)}")


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    with Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[stage]}"), TimeElapsedColumn(), console=console,
                  ) as progress:  # fmt: skip
        yield progress


def _watch(ctx, jobs, progress: Progress, bars, stop: threading.Event) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        stages = _stages(ctx, jobs)
        for job in jobs:
            stage = stages[job.job_id]
            note = stage
            if stage == "labeling":
                with ctx.uow() as uow:
                    counts = uow.work.slot_counts(job.job_id)
                note = f"labeling: {counts.get('answered', 0)}/{sum(counts.values())} answers"
            progress.update(bars[job.name], completed=STAGES.index(stage) + 1, stage=note)
        stop.wait(0.5)
    for job in jobs:
        progress.update(bars[job.name], completed=len(STAGES), stage="delivered")


def _summarise(ctx, jobs: list[DemoJob], var: Path, console: Console) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from engine.domain.scoring import word_error_rate

    out: dict[str, Any] = {"jobs": []}
    for job in jobs:
        target = var / "deliverables" / job.job_id
        with ctx.uow() as uow:
            rows = [(r.name, r.object_key) for r in uow.assembly.deliverables(job.job_id)]
        paths = []
        for name, key in rows:
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            ctx.store.download_to(key, path)
            paths.append(path)
        report = json.loads((target / "report.json").read_text())
        entry: dict[str, Any] = {"job_id": job.job_id, "kind": job.kind, "dir": str(target),
                                 "report": str(target / "report.html"),
                                 "files": [str(p) for p in paths]}  # fmt: skip
        if job.kind == "transcription":
            wers = {}
            for name, reference in job.references.items():
                txt = target / (Path(name).stem + ".txt")
                if txt.exists():
                    text = txt.read_text().split("\n[not transcribed")[0]
                    wers[name] = round(100 * word_error_rate(reference, text), 2)
            entry["wer_percent"] = wers
        entry["estimated_accuracy"] = report.get("estimated_accuracy")
        out["jobs"].append(entry)
        console.rule(f"{job.name}: job {job.job_id}")
        console.print(f"deliverables in {target}")
        for p in paths:
            console.print(f"  {p.relative_to(target)}")
        console.print(f"quality report: {target / 'report.html'}")
        if "wer_percent" in entry:
            pairs = ", ".join(f"{k} {v}" for k, v in entry["wer_percent"].items())
            console.print(f"WER of the delivered transcripts vs the references (%): {pairs}")
    return out
