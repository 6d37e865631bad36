"""Fakes for the publishing and Label Studio sync use cases: a unit of work that knows when a
step is open, a Label Studio that refuses to be called from inside one, and the repositories
those use cases read and write."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from engine.db.models import (
    DraftRow,
    JobRow,
    LabelStudioProjectRow,
    LabelStudioTaskRow,
    TaskResultRow,
    TaskRow,
)
from engine.domain.job_stage import JobStage
from engine.domain.labeling_payload import KAZI_TASK_ID_KEY
from engine.labeling.label_studio_gateway import LabelStudioUnavailable
from tests.unit.fakes import FakeUnitOfWork

# The Label Studio the fakes stand for (engine/publishing/ls_server.py form).
SERVER = "http://label-studio.test:8080"


class Transactional:
    """A fake repository whose writes last only when the step commits."""

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError


class StepUnitOfWork(FakeUnitOfWork):
    """``in_step`` is true inside ``with uow:`` (a transaction is open). Commits and rollbacks
    reach the repositories that are ``Transactional``."""

    def __init__(self, **repositories: Any) -> None:
        super().__init__(**repositories)
        self.in_step = False
        self.steps = 0

    def __enter__(self) -> Self:
        assert not self.in_step, "a step opened inside another step"
        self.in_step = True
        self.steps += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        finally:
            self.in_step = False

    def commit(self) -> None:
        assert self.in_step, "commit outside a step"
        super().commit()
        for repo in self._transactional():
            repo.commit()

    def rollback(self) -> None:
        super().rollback()
        for repo in self._transactional():
            repo.rollback()

    def _transactional(self) -> list[Transactional]:
        return [r for r in vars(self).values() if isinstance(r, Transactional)]


# -- Label Studio ------------------------------------------------------------------------------


@dataclass
class FakeProject:
    title: str
    description: str
    label_config: str
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[str, str] = field(default_factory=dict)  # url -> secret


class FakeLabelStudio:
    """Label Studio in memory. Every call first checks that no step of ``uow`` is open.

    ``lose_response_of`` names calls whose effect happens but whose answer is lost on the way
    back (the caller sees ``LabelStudioUnavailable``), once each, in call order:
    ``{"import_tasks": [2]}`` loses the second import's answer.
    """

    def __init__(self, uow: StepUnitOfWork) -> None:
        self.uow = uow
        self.projects: dict[int, FakeProject] = {}
        self.deleted: list[int] = []
        self.calls: list[str] = []
        self.lose_response_of: dict[str, list[int]] = {}
        self.annotations_of: dict[int, list[dict[str, Any]]] = {}
        self.on_create: list[Any] = []  # callables run after a project is made
        self._next_id = 100

    def _enter(self, call: str) -> None:
        assert not self.uow.in_step, f"Label Studio {call} called inside a transaction"
        self.calls.append(call)

    def _answer(self, call: str) -> None:
        nth = self.calls.count(call)
        if nth in self.lose_response_of.get(call, []):
            self.lose_response_of[call].remove(nth)
            raise LabelStudioUnavailable(f"{call}: connection reset (the call went through)")

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def create_project(self, title: str, label_config: str, description: str = "") -> int:
        self._enter("create_project")
        project_id = self._new_id()
        self.projects[project_id] = FakeProject(title, description, label_config)
        for hook in self.on_create:
            hook(project_id)
        self._answer("create_project")
        return project_id

    def projects_titled(self, title: str) -> list[tuple[int, str]]:
        self._enter("projects_titled")
        return [(i, p.description) for i, p in self.projects.items() if p.title == title]

    def delete_project(self, project_id: int) -> None:
        self._enter("delete_project")
        del self.projects[project_id]
        self.deleted.append(project_id)

    def import_tasks(
        self, project_id: int, tasks: Sequence[dict[str, Any]], batch_size: int = 500
    ) -> list[int]:
        self._enter("import_tasks")
        ids = []
        for task in tasks:
            task_id = self._new_id()
            self.projects[project_id].tasks[task_id] = task
            ids.append(task_id)
        self._answer("import_tasks")
        return ids

    def existing_task_ids(self, project_id: int) -> dict[str, int]:
        self._enter("existing_task_ids")
        return {t["data"][KAZI_TASK_ID_KEY]: i for i, t in self.projects[project_id].tasks.items()}

    def register_webhook(self, project_id: int, url: str, secret: str) -> int:
        self._enter("register_webhook")
        self.projects[project_id].webhooks[url] = secret
        self._answer("register_webhook")
        return project_id

    def annotations(self, project_id: int) -> Iterator[dict[str, Any]]:
        self._enter("annotations")
        for annotation in self.annotations_of.get(project_id, []):
            # Each annotation comes off the wire: never while the caller has a step open.
            assert not self.uow.in_step, "Label Studio annotations read inside a transaction"
            yield annotation

    # What a test reads back.
    def kazi_tasks(self, project_id: int) -> list[str]:
        """The Kazi task id of every task in the project, repeats included."""
        return sorted(t["data"][KAZI_TASK_ID_KEY] for t in self.projects[project_id].tasks.values())


# -- repositories ------------------------------------------------------------------------------


class FakeJobRepository:
    def __init__(self, *jobs: JobRow) -> None:
        self.jobs = {job.id: job for job in jobs}
        self.events: list[tuple[str, str, str | None]] = []

    def get(self, job_id: str, *, for_update: bool = False) -> JobRow | None:
        return self.jobs.get(job_id)

    def add_stage_event(self, job_id: str, stage: str, detail: str | None) -> None:
        self.events.append((job_id, stage, detail))


class FakePublishRepository(Transactional):
    """Projects and task links, with the uniqueness the tables enforce; writes are kept only
    when the step commits."""

    def __init__(
        self, jobs: FakeJobRepository, tasks: Sequence[TaskRow] = (), server: str = SERVER
    ) -> None:
        self._jobs = jobs
        self.server = server  # the one Label Studio of this world: any other is a bug
        self.tasks = {t.id: t for t in tasks}
        self.projects: dict[tuple[str, str, int], int] = {}
        self.links: dict[int, LabelStudioTaskRow] = {}
        self._new_projects: dict[tuple[str, str, int], int] = {}
        self._new_links: dict[int, LabelStudioTaskRow] = {}

    def commit(self) -> None:
        self.projects.update(self._new_projects)
        self.links.update(self._new_links)
        self.rollback()

    def rollback(self) -> None:
        self._new_projects, self._new_links = {}, {}

    def _all_projects(self) -> dict[tuple[str, str, int], int]:
        return {**self.projects, **self._new_projects}

    def _all_links(self) -> dict[int, LabelStudioTaskRow]:
        return {**self.links, **self._new_links}

    def _row(self, key: tuple[str, str, int], ls_id: int) -> LabelStudioProjectRow:
        job_id, role, replica = key
        return LabelStudioProjectRow(ls_server=self.server, ls_project_id=ls_id, job_id=job_id,
                                     role=role, replica=replica)  # fmt: skip

    def _on(self, server: str) -> None:
        assert server == self.server, f"Label Studio ids of {server!r} asked of {self.server!r}"

    def project(
        self, job_id: str, role: str, replica: int, server: str
    ) -> LabelStudioProjectRow | None:
        self._on(server)
        key = (job_id, role, replica)
        ls_id = self._all_projects().get(key)
        return self._row(key, ls_id) if ls_id is not None else None

    def project_by_ls_id(self, server: str, ls_project_id: int) -> LabelStudioProjectRow | None:
        self._on(server)
        for key, ls_id in self._all_projects().items():
            if ls_id == ls_project_id:
                return self._row(key, ls_id)
        return None

    def projects_of_job(self, job_id: str, server: str) -> list[LabelStudioProjectRow]:
        self._on(server)
        return [self._row(k, i) for k, i in self._all_projects().items() if k[0] == job_id]

    def projects_taking_annotations(self, server: str) -> list[LabelStudioProjectRow]:
        self._on(server)
        taking = {"work": JobStage.LABELING.value, "review": JobStage.REVIEWING.value}
        out = []
        for key, ls_id in self._all_projects().items():
            job = self._jobs.get(key[0])
            if job is not None and job.stage == taking[key[1]]:
                out.append(self._row(key, ls_id))
        return out

    def record_project(
        self, job_id: str, role: str, replica: int, server: str, ls_project_id: int
    ) -> int:
        self._on(server)
        key = (job_id, role, replica)
        recorded = self._all_projects().get(key)
        if recorded is not None:
            return recorded
        self._new_projects[key] = ls_project_id
        return ls_project_id

    def published_task_ids(self, server: str, ls_project_id: int) -> set[str]:
        self._on(server)
        return {r.task_id for r in self._all_links().values() if r.ls_project_id == ls_project_id}

    def add_task_links(self, rows: Sequence[LabelStudioTaskRow]) -> None:
        links = self._all_links()
        for row in rows:
            # The primary key and uq_ls_tasks_project.
            assert row.ls_task_id not in links, f"Label Studio task {row.ls_task_id} linked twice"
            self._on(row.ls_server)
            assert row.task_id not in self.published_task_ids(row.ls_server, row.ls_project_id), (
                f"task {row.task_id} linked twice in project {row.ls_project_id}"
            )
            self._new_links[row.ls_task_id] = row
            links[row.ls_task_id] = row

    def task_link(self, server: str, ls_task_id: int) -> LabelStudioTaskRow | None:
        self._on(server)
        return self._all_links().get(ls_task_id)

    def task(self, task_id: str) -> TaskRow | None:
        return self.tasks.get(task_id)

    def publishable_tasks(self, job_id: str) -> list[TaskRow]:
        return sorted(
            (t for t in self.tasks.values() if t.job_id == job_id and t.status != "failed"),
            key=lambda t: (t.source_id, t.seq),
        )


class FakeSlotRepository:
    """The answer-slot side of WorkRepository that publishing uses."""

    def __init__(self, tasks: Sequence[TaskRow]) -> None:
        self.tasks = list(tasks)
        self.slots: set[tuple[str, int]] = set()
        self.statistics_refreshed = 0

    def workable_task_ids(self, job_id: str) -> list[str]:
        return [
            t.id
            for t in self.tasks
            if t.job_id == job_id and t.status != "failed" and not t.is_gold
        ]

    def add_slots(self, job_id: str, task_ids: Sequence[str], overlap: int) -> int:
        before = len(self.slots)
        self.slots |= {(t, r) for t in task_ids for r in range(overlap)}
        return len(self.slots) - before

    def refresh_statistics(self) -> None:
        self.statistics_refreshed += 1

    def slot_counts(self, job_id: str) -> dict[str, int]:
        return {"open": len(self.slots)} if self.slots else {}


class FakeDraftRepository:
    def __init__(self, *drafts: DraftRow) -> None:
        self.drafts = {d.task_id: d for d in drafts}

    def latest_per_task(self, job_id: str) -> dict[str, DraftRow]:
        return dict(self.drafts)


class FakeReviewResults:
    """The quality repository's results in review."""

    def __init__(self, *results: TaskResultRow) -> None:
        self.results = list(results)

    def results_in_review(self, job_id: str) -> list[TaskResultRow]:
        return [r for r in self.results if r.job_id == job_id and r.status == "in_review"]
