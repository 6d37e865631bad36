"""Two Label Studio servers number their users, projects, tasks and annotations from 1 alike:
on PostgreSQL, the engine publishes to both, links a worker on each, and takes both servers'
annotation 1 in as two answers of two jobs, never one clash or one answer overwriting the
other. The servers are in-memory fakes of fresh Label Studio instances (no real server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import select

from engine.db.models import (
    AnswerRow,
    ClientRow,
    JobRow,
    LabelStudioProjectRow,
    LabelStudioTaskRow,
    RefusedAnnotationRow,
    SourceMediaRow,
    TaskRow,
    WorkerRow,
)
from engine.domain.job_stage import JobKind, JobStage
from engine.label_studio_sync.service import ingest_annotation, reconcile
from engine.publishing.ls_server import label_studio_server
from engine.publishing.service import LabelStudioTarget, publish_job
from engine.work.service import DistributionSettings
from engine.workforce.service import enrol_in_label_studio, register_worker
from schemas.jobs import JobSpec
from tests.conftest import manual_uow

SETTINGS = DistributionSettings()


class FreshLabelStudio:
    """A new Label Studio at ``base_url``: every kind of id starts at 1."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.next = {"project": 0, "task": 0, "user": 0, "annotation": 0}
        self.tasks: dict[int, list[int]] = {}
        self.annotations_of: dict[int, list[dict[str, Any]]] = {}

    def _id(self, kind: str) -> int:
        self.next[kind] += 1
        return self.next[kind]

    def create_project(self, title: str, label_config: str, description: str = "") -> int:
        project = self._id("project")
        self.tasks[project] = []
        return project

    def projects_titled(self, title: str) -> list[tuple[int, str]]:
        return []

    def delete_project(self, project_id: int) -> None:
        raise AssertionError("nothing races here")

    def import_tasks(
        self, project_id: int, tasks: Sequence[dict[str, Any]], batch_size: int = 500
    ) -> list[int]:
        ids = [self._id("task") for _ in tasks]
        self.tasks[project_id] += ids
        return ids

    def existing_task_ids(self, project_id: int) -> dict[str, int]:
        return {}

    def register_webhook(self, project_id: int, url: str, secret: str) -> int:
        return 1

    def annotations(self, project_id: int) -> Iterator[dict[str, Any]]:
        yield from self.annotations_of.get(project_id, [])

    def sign_up_worker(self, email: str, password: str) -> tuple[int, str]:
        return self._id("user"), f"token-{uuid.uuid4().hex}"

    def annotate(self, project_id: int, task: int, user: int, label: str) -> dict[str, Any]:
        annotation = {
            "id": self._id("annotation"), "task": task, "completed_by": user,
            "result": [{"from_name": "label", "to_name": "image", "type": "choices",
                        "value": {"choices": [label]}}],
        }  # fmt: skip
        self.annotations_of.setdefault(project_id, []).append(annotation)
        return annotation


def _split_image_job(ctx) -> str:  # type: ignore[no-untyped-def]
    spec = JobSpec(kind=JobKind.IMAGE_CLASSIFICATION, labels=["cat", "dog"], overlap=1,
                   gold_ratio=0.0)  # fmt: skip
    job_id, source_id = str(uuid.uuid4()), str(uuid.uuid4())
    with manual_uow(ctx) as uow:
        client = ClientRow(id=str(uuid.uuid4()), name=f"c-{job_id[:8]}")
        uow.clients.add(client)
        uow.jobs.add(JobRow(id=job_id, client_id=client.id, kind=spec.kind.value,
                            spec=spec.model_dump(mode="json"),
                            stage=JobStage.SPLIT.value))  # fmt: skip
        session = uow.jobs.session
        session.add(SourceMediaRow(id=source_id, job_id=job_id, seq=0, filename="cat.png",
                                   object_key=f"{job_id}/cat.png", sha256="0" * 64, size_bytes=1,
                                   media_type="image", content_type="image/png", width=40,
                                   height=30, status="split"))  # fmt: skip
        session.flush()
        session.add(TaskRow(id=str(uuid.uuid4()), job_id=job_id, source_id=source_id, seq=0,
                            kind="image", object_key=f"{job_id}/t0.png", box_x=0, box_y=0,
                            box_w=40, box_h=30))  # fmt: skip
        uow.commit()
    return job_id


def _target(ls: FreshLabelStudio) -> LabelStudioTarget:
    return LabelStudioTarget(ls, lambda key: f"https://media.test/{key}", "https://kazi.test/hook",
                             "s3cret", server=label_studio_server(ls.base_url))  # fmt: skip


@pytest.fixture
def two_servers(ctx):  # type: ignore[no-untyped-def]
    """Two fresh servers, each with a published job and an enrolled worker."""
    tag = uuid.uuid4().hex[:6]
    servers = [FreshLabelStudio(f"http://ls-{tag}-{n}.test:8080/") for n in "ab"]
    jobs, workers = [], []
    for n, ls in enumerate(servers):
        job_id = _split_image_job(ctx)
        assert publish_job(manual_uow(ctx), job_id, _target(ls)) is JobStage.LABELING
        worker = ctx.in_unit_of_work(register_worker, f"w-{tag}-{n}", "qualified")
        ctx.in_unit_of_work(enrol_in_label_studio, ls, worker.id, "Worker-pass-2026!")
        jobs.append(job_id)
        workers.append(worker.id)
    return servers, jobs, workers


def test_the_same_ids_on_two_servers_are_two_projects_tasks_and_logins(ctx, two_servers):
    servers, jobs, workers = two_servers
    names = [label_studio_server(ls.base_url) for ls in servers]
    assert names[0] != names[1] and not names[0].endswith("/")
    with ctx.sessions() as session:
        projects = session.scalars(
            select(LabelStudioProjectRow).where(LabelStudioProjectRow.job_id.in_(jobs))
        ).all()
        links = session.scalars(
            select(LabelStudioTaskRow).where(LabelStudioTaskRow.ls_server.in_(names))
        ).all()
        logins = [session.get(WorkerRow, w) for w in workers]
    assert sorted((p.ls_server, p.ls_project_id) for p in projects) == [(n, 1) for n in names]
    assert sorted((t.ls_server, t.ls_task_id) for t in links) == [(n, 1) for n in names]
    assert [(w.ls_server, w.ls_user_id) for w in logins if w] == [(n, 1) for n in names]


def test_annotation_one_of_each_server_is_an_answer_of_its_own_job(ctx, two_servers):
    servers, jobs, workers = two_servers
    outcomes = []
    for ls, label in zip(servers, ["cat", "dog"], strict=True):
        annotation = ls.annotate(1, 1, 1, label)
        assert annotation["id"] == 1
        with manual_uow(ctx) as uow:
            outcomes.append(ingest_annotation(uow, label_studio_server(ls.base_url), 1, 1,
                                              annotation, SETTINGS))  # fmt: skip
            uow.commit()
    assert [o.status for o in outcomes] == ["accepted", "accepted"], outcomes
    assert [o.job_id for o in outcomes] == jobs
    with ctx.sessions() as session:
        answers = session.scalars(select(AnswerRow).where(AnswerRow.job_id.in_(jobs))).all()
    got = sorted((a.job_id, a.worker_id, a.payload["label"], a.ls_annotation_id) for a in answers)
    assert got == sorted([(jobs[0], workers[0], "cat", 1), (jobs[1], workers[1], "dog", 1)])
    # A reconciliation of either server files nothing again.
    for ls in servers:
        report = reconcile(manual_uow(ctx), ls, label_studio_server(ls.base_url), SETTINGS)
        assert (report.seen, report.accepted, report.refused) == (1, 0, 0)


def test_refused_annotations_of_two_servers_are_kept_apart(ctx, two_servers):
    servers, jobs, _ = two_servers
    for ls in servers:
        stranger = ls.annotate(1, 1, 77, "cat")  # user 77 is nobody's login
        with manual_uow(ctx) as uow:
            outcome = ingest_annotation(uow, label_studio_server(ls.base_url), 1, 1, stranger,
                                        SETTINGS)  # fmt: skip
            uow.commit()
        assert outcome.status == "refused" and "not a Kazi worker" in (outcome.reason or "")
    names = [label_studio_server(ls.base_url) for ls in servers]
    with ctx.sessions() as session:
        refused = session.scalars(
            select(RefusedAnnotationRow).where(RefusedAnnotationRow.ls_server.in_(names))
        ).all()
    assert sorted((r.ls_server, r.ls_annotation_id) for r in refused) == [(n, 1) for n in names]


def test_a_server_reset_at_the_same_address_takes_its_ids_back(ctx):
    """The same URL, a fresh server: the old rows are leftovers, Label Studio's new answers win
    (the project, the task link, the worker login and a refusal under the same ids)."""
    tag = uuid.uuid4().hex[:6]
    url = f"http://ls-{tag}-same.test:8080"
    server = label_studio_server(url)
    jobs, workers = [], []
    for n in range(2):
        ls = FreshLabelStudio(url)  # the second one: the same address after a reset
        job_id = _split_image_job(ctx)
        assert publish_job(manual_uow(ctx), job_id, _target(ls)) is JobStage.LABELING
        worker = ctx.in_unit_of_work(register_worker, f"w-{tag}-{n}", "qualified")
        ctx.in_unit_of_work(enrol_in_label_studio, ls, worker.id, "Worker-pass-2026!")
        outcomes = []
        for annotation in (ls.annotate(1, 1, 1, "cat"), ls.annotate(1, 1, 77, "dog")):
            with manual_uow(ctx) as uow:
                outcomes.append(ingest_annotation(uow, server, 1, 1, annotation, SETTINGS))
                uow.commit()
        assert [o.status for o in outcomes] == ["accepted", "refused"], (n, outcomes)
        assert outcomes[0].job_id == job_id
        assert "not a Kazi worker" in (outcomes[1].reason or "")
        jobs.append(job_id)
        workers.append(worker.id)
    with ctx.sessions() as session:
        project = session.get(LabelStudioProjectRow, (server, 1))
        link = session.get(LabelStudioTaskRow, (server, 1))
        refused = session.get(RefusedAnnotationRow, (server, 2))
        old, new = (session.get(WorkerRow, w) for w in workers)
        answers = session.scalars(select(AnswerRow).where(AnswerRow.job_id.in_(jobs))).all()
    assert project is not None and project.job_id == jobs[1]
    assert link is not None and link.task_id != _task_of(ctx, jobs[0])
    assert refused is not None and refused.task_id == link.task_id
    assert old is not None and old.ls_user_id is None
    assert new is not None and (new.ls_server, new.ls_user_id) == (server, 1)
    # Each job kept its own answer: the second annotation 1 did not overwrite the first.
    assert sorted((a.job_id, a.payload["label"]) for a in answers) == sorted(
        [(jobs[0], "cat"), (jobs[1], "cat")]
    )


def _task_of(ctx, job_id: str) -> str:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return str(session.scalar(select(TaskRow.id).where(TaskRow.job_id == job_id)))


def test_one_worker_after_a_reset_at_the_same_address_files_both_answers(ctx):
    """The same worker, the same URL, a fresh server handing out annotation id 1 again for a
    new job's task: that is a new answer, not a replay of the old one."""
    tag = uuid.uuid4().hex[:6]
    url = f"http://ls-{tag}-one.test:8080"
    server = label_studio_server(url)
    worker = ctx.in_unit_of_work(register_worker, f"w-{tag}", "qualified")
    jobs = []
    for _ in range(2):
        ls = FreshLabelStudio(url)
        job_id = _split_image_job(ctx)
        assert publish_job(manual_uow(ctx), job_id, _target(ls)) is JobStage.LABELING
        ctx.in_unit_of_work(enrol_in_label_studio, ls, worker.id, "Worker-pass-2026!")
        with manual_uow(ctx) as uow:
            outcome = ingest_annotation(uow, server, 1, 1, ls.annotate(1, 1, 1, "cat"), SETTINGS)
            uow.commit()
        assert outcome.status == "accepted" and outcome.job_id == job_id, outcome
        jobs.append(job_id)
    with ctx.sessions() as session:
        answers = session.scalars(select(AnswerRow).where(AnswerRow.job_id.in_(jobs))).all()
    assert sorted(a.job_id for a in answers) == sorted(jobs)
