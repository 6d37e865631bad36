"""The engine's only door to Label Studio: a narrow wrapper over label-studio-sdk 2.x.

One project per job and overlap replica (``maximum_annotations=1``: a worker never sees another
worker's answer), tasks imported in batches, worker accounts, webhooks, and reading annotations
back for reconciliation. Recipes and timings: ``docs/label-studio.md``.

Errors: ``LabelStudioUnavailable`` is transient (connection refused, timeout, 502/503/504);
retry later. ``LabelStudioRejected`` carries Label Studio's status and message (bad config,
unknown project, wrong token); retrying the same call will not help.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar, cast

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.core.request_options import RequestOptions
from label_studio_sdk.types.import_api_request import ImportApiRequest

from engine.domain.labeling_payload import KAZI_TASK_ID_KEY

log = logging.getLogger(__name__)

T = TypeVar("T")

WEBHOOK_SECRET_HEADER = "X-Kazi-Webhook-Secret"
WEBHOOK_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
# Tasks per page when listing; Label Studio's default is 100 and it allows any size here.
LIST_PAGE_SIZE = 1000
# Task ids per export request: Django refuses more than 1,000 query fields (400).
EXPORT_CHUNK = 500
_TRANSIENT_STATUS = frozenset({502, 503, 504})
# The SDK re-sends on 5xx/408/409/429 and dropped connections by default. Not for calls that
# create things: a retried import whose first try was committed would duplicate every task.
_NO_RETRY: RequestOptions = {"max_retries": 0}
# What a reconciliation row carries (see ``annotations``).
ANNOTATION_FIELDS = (
    "id",
    "task",
    "completed_by",
    "result",
    "lead_time",
    "created_at",
    "updated_at",
    "was_cancelled",
)


class LabelStudioGatewayError(RuntimeError):
    """A call to Label Studio failed."""


class LabelStudioUnavailable(LabelStudioGatewayError):
    """Label Studio did not answer (connection refused, timeout, 502/503/504): retry later."""


class LabelStudioRejected(LabelStudioGatewayError):
    """Label Studio answered with an error; ``status_code`` and its ``message``."""

    def __init__(self, status_code: int | None, message: str, action: str = "") -> None:
        self.status_code = status_code
        self.message = message
        prefix = f"{action}: " if action else ""
        super().__init__(f"{prefix}Label Studio answered {status_code}: {message}")


def _message(body: Any) -> str:
    if isinstance(body, Mapping):
        detail = body.get("validation_errors") or body.get("detail") or body
        return json.dumps(detail, default=str)[:2000]
    return str(body)[:2000]


def _call(action: str, fn: Callable[[], T]) -> T:
    """Run one SDK/httpx call, translating its failures into the two gateway errors."""
    try:
        return fn()
    except ApiError as exc:
        if exc.status_code is None or exc.status_code in _TRANSIENT_STATUS:
            raise LabelStudioUnavailable(
                f"{action}: {exc.status_code} {_message(exc.body)}"
            ) from exc
        raise LabelStudioRejected(exc.status_code, _message(exc.body), action) from exc
    except httpx.HTTPStatusError as exc:
        code = exc.response.status_code
        if code in _TRANSIENT_STATUS:
            raise LabelStudioUnavailable(f"{action}: {code}") from exc
        raise LabelStudioRejected(code, exc.response.text[:2000], action) from exc
    except httpx.TransportError as exc:  # connect errors, timeouts, dropped connections
        raise LabelStudioUnavailable(f"{action}: {type(exc).__name__}: {exc}") from exc


class LabelStudioGateway:
    """Label Studio as the engine needs it. ``token`` is a legacy token (admin or worker)."""

    def __init__(self, base_url: str, token: str, timeout: float = 120) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._client = LabelStudio(base_url=self.base_url, api_key=token, timeout=timeout)

    def for_user(self, token: str) -> LabelStudioGateway:
        """The same server, acting as the user who owns ``token``."""
        return LabelStudioGateway(self.base_url, token, self.timeout)

    # --- projects ---------------------------------------------------------------------------

    def create_project(self, title: str, label_config: str, description: str = "") -> int:
        """A new project: one annotation per task, no skip button, tasks in import order."""
        if len(title.strip()) < 3:
            raise ValueError(
                f"Label Studio needs a project title of at least 3 characters: {title!r}"
            )
        project = _call(
            "create project",
            lambda: self._client.projects.create(
                title=title,
                description=description,
                label_config=label_config,
                maximum_annotations=1,
                show_skip_button=False,
                sampling="Sequential sampling",
                request_options=_NO_RETRY,
            ),
        )
        if project.id is None:
            raise LabelStudioRejected(None, "project created without an id", "create project")
        return int(project.id)

    def delete_project(self, project_id: int) -> None:
        _call("delete project", lambda: self._client.projects.delete(id=project_id))

    def project_task_count(self, project_id: int) -> int:
        project = _call("get project", lambda: self._client.projects.get(id=project_id))
        return int(project.task_number or 0)

    # --- tasks ------------------------------------------------------------------------------

    def existing_task_ids(self, project_id: int) -> dict[str, int]:
        """``kazi_task_id`` -> Label Studio task id for every task of the project that has one.

        Asks only for ``id`` and ``data``: about 1.7 s per 2,000 tasks, against ~20 s for the
        default ``fields=all`` listing.
        """
        pages: Any = _call(
            "list tasks",
            lambda: self._client.tasks.list(
                project=project_id,
                fields="task_only",
                include="id,data",
                page_size=LIST_PAGE_SIZE,
            ),
        )
        found: dict[str, int] = {}
        for task in _iterate("list tasks", pages):
            kazi_id = (task.data or {}).get(KAZI_TASK_ID_KEY)
            if kazi_id is not None and task.id is not None:
                found[str(kazi_id)] = int(task.id)
        return found

    def import_tasks(
        self,
        project_id: int,
        tasks: Sequence[Mapping[str, Any]],
        batch_size: int = 500,
        already: Mapping[str, int] | None = None,
    ) -> list[int]:
        """Create ``tasks`` (``{"data": {..., "kazi_task_id"}, "predictions": [...]}``) and return
        their Label Studio ids in input order.

        Tasks whose ``kazi_task_id`` is in ``already`` are not sent again; their ids come from
        it. After a failed call, pass ``already=existing_task_ids(project_id)`` to finish the
        import without duplicating the batches that did land. Each batch is one request (and
        one transaction in Label Studio), so a batch is either wholly in or wholly out.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        known = dict(already or {})
        kazi_ids = [_kazi_task_id(task, i) for i, task in enumerate(tasks)]
        if len(set(kazi_ids)) != len(kazi_ids):
            raise ValueError("tasks repeat a kazi_task_id")
        todo = [i for i, kazi_id in enumerate(kazi_ids) if kazi_id not in known]
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            # Plain dicts: the SDK's ImportApiRequest wants ``task`` inside every prediction,
            # which Label Studio itself does not (the task does not exist yet).
            request = cast(list[ImportApiRequest], [dict(tasks[i]) for i in batch])
            response = _call(
                "import tasks",
                partial(
                    self._client.projects.import_tasks,
                    id=project_id,
                    request=request,
                    return_task_ids=True,
                    request_options=_NO_RETRY,
                ),
            )
            # Community edition only, and not a declared field of the response model.
            created = (response.model_extra or {}).get("task_ids")
            if not isinstance(created, list) or len(created) != len(batch):
                raise LabelStudioRejected(
                    None,
                    f"import of {len(batch)} tasks returned task_ids {str(created)[:200]}",
                    "import tasks",
                )
            # Label Studio bulk-creates in request order and returns ids in that order
            # (verified on PostgreSQL in tests/integration/labeling/test_label_studio_gateway.py).
            for i, task_id in zip(batch, created, strict=True):
                known[kazi_ids[i]] = int(task_id)
            log.debug("imported %d tasks into project %d", len(batch), project_id)
        return [known[kazi_id] for kazi_id in kazi_ids]

    # --- annotations ------------------------------------------------------------------------

    def annotations(self, project_id: int) -> Iterator[dict[str, Any]]:
        """Every annotation of the project (``ANNOTATION_FIELDS``); ``completed_by`` is the
        annotator's user id, ``task`` the Label Studio task id.

        Two steps, both paged: the ids of tasks with annotations (Data Manager filter), then
        the JSON export of those tasks, ``EXPORT_CHUNK`` ids at a time. About 5 ms per
        annotated task here; the ``fields=all`` task listing took 2.5 times as long. An
        annotation made while this runs may be missed; the next pass (or its webhook) has it.
        """
        pages: Any = _call(
            "list annotated tasks",
            lambda: self._client.tasks.list(
                project=project_id,
                fields="task_only",
                include="id",
                query=_ANNOTATED_ONLY,
                page_size=LIST_PAGE_SIZE,
            ),
        )
        task_ids = [int(task.id) for task in _iterate("list annotated tasks", pages)]
        for start in range(0, len(task_ids), EXPORT_CHUNK):
            chunk = task_ids[start : start + EXPORT_CHUNK]
            for task in self._export_json(project_id, chunk):
                for annotation in task.get("annotations") or []:
                    yield _annotation_row(annotation, task.get("id"))

    def _export_json(self, project_id: int, task_ids: Sequence[int]) -> list[dict[str, Any]]:
        # The SDK sends its ``ids`` argument as ``ids=``, which Label Studio ignores (it reads
        # ``ids[]``), so the ids go in as an extra query parameter.
        options: RequestOptions = {"additional_query_parameters": {"ids[]": list(task_ids)}}
        raw = _call(
            "export annotations",
            lambda: b"".join(
                self._client.projects.exports.download_sync(
                    project_id,
                    export_type="JSON",
                    download_all_tasks=False,
                    request_options=options,
                )
            ),
        )
        tasks = json.loads(raw)
        if not isinstance(tasks, list):
            raise LabelStudioRejected(None, f"export is not a list: {raw[:200]!r}", "export")
        return tasks

    def annotate(
        self, ls_task_id: int, result: list[dict[str, Any]], lead_time: float | None
    ) -> int:
        """Submit an annotation as this gateway's user (simulated workers, tests)."""
        options: dict[str, Any] = {"result": result}
        if lead_time is not None:
            options["lead_time"] = lead_time
        annotation = _call(
            "create annotation",
            lambda: self._client.annotations.create(
                id=ls_task_id, request_options=_NO_RETRY, **options
            ),
        )
        if annotation.id is None:
            raise LabelStudioRejected(None, "annotation created without an id", "create annotation")
        return int(annotation.id)

    # --- webhooks ---------------------------------------------------------------------------

    def register_webhook(self, project_id: int, url: str, secret: str) -> int:
        """Annotation created/updated events for one project, sent to ``url`` with the secret in
        ``X-Kazi-Webhook-Secret``. A hook already there for the same URL is reused (and brought
        up to date), so calling this again never adds a second one."""
        wanted: dict[str, Any] = {
            "actions": list(WEBHOOK_ACTIONS),
            "headers": {WEBHOOK_SECRET_HEADER: secret},
            "is_active": True,
            "send_payload": True,
            "send_for_all_actions": False,
        }
        hooks = _call("list webhooks", lambda: self._client.webhooks.list(project=str(project_id)))
        for hook in hooks:
            if hook.project != project_id or hook.url != url or hook.id is None:
                continue
            current = {
                "actions": sorted(hook.actions or []),
                "headers": hook.headers or {},
                "is_active": hook.is_active,
                "send_payload": hook.send_payload,
                "send_for_all_actions": hook.send_for_all_actions,
            }
            if current != {**wanted, "actions": sorted(WEBHOOK_ACTIONS)}:
                _call(
                    "update webhook",
                    partial(self._client.webhooks.update, id=hook.id, url=url, **wanted),
                )
            return int(hook.id)
        created = _call(
            "create webhook",
            lambda: self._client.webhooks.create(
                url=url, project=project_id, request_options=_NO_RETRY, **wanted
            ),
        )
        if created.id is None:
            raise LabelStudioRejected(None, "webhook created without an id", "create webhook")
        return int(created.id)

    # --- worker accounts ----------------------------------------------------------------------

    def sign_up_worker(self, email: str, password: str) -> tuple[int, str]:
        """A Label Studio account for a worker: (user id, the worker's legacy token).

        The free edition cannot set passwords or read tokens over the API, so this signs up
        through the organisation's invite link (a Django form) and reads the token from the
        new session. When the email is taken, it logs in with ``password`` instead.
        """
        invite = _call("read invite", lambda: self._raw_get("/api/invite"))
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as session:
            signed_up = self._sign_up_form(session, str(invite["token"]), email, password)
            if not signed_up and not self._log_in_form(session, email, password):
                raise LabelStudioRejected(
                    None,
                    f"could not sign up {email} (taken email or weak password) nor log in "
                    "with that password",
                    "sign up worker",
                )
            token = _call(
                "read worker token", lambda: _json(session.get("/api/current-user/token"))
            )
            user = _call("whoami", lambda: _json(session.get("/api/current-user/whoami")))
        return int(user["id"]), str(token["token"])

    def _raw_get(self, path: str) -> Any:
        return _json(
            httpx.get(
                f"{self.base_url}{path}",
                headers={"Authorization": f"Token {self._token}"},
                timeout=self.timeout,
            )
        )

    @staticmethod
    def _sign_up_form(session: httpx.Client, invite: str, email: str, password: str) -> bool:
        def post() -> httpx.Response:
            session.get("/user/signup/")  # sets the csrftoken cookie
            return session.post(
                "/user/signup/",
                params={"token": invite},
                data={
                    "email": email,
                    "password": password,
                    "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
                },
                headers={"Referer": f"{session.base_url}/user/signup/"},
            )

        response = _call("sign up", post)
        # Success redirects; a rejected form (taken email, weak password) re-renders with 200.
        if response.status_code >= 400:
            raise LabelStudioRejected(response.status_code, response.text[:500], "sign up")
        return response.status_code == 302

    @staticmethod
    def _log_in_form(session: httpx.Client, email: str, password: str) -> bool:
        def post() -> httpx.Response:
            session.get("/user/login/")
            return session.post(
                "/user/login/",
                data={
                    "email": email,
                    "password": password,
                    "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
                },
                headers={"Referer": f"{session.base_url}/user/login/"},
            )

        response = _call("log in", post)
        if response.status_code >= 400:
            raise LabelStudioRejected(response.status_code, response.text[:500], "log in")
        return response.status_code == 302


# Data Manager filter: tasks with at least one annotation, submitted or cancelled.
_ANNOTATED_ONLY = json.dumps(
    {
        "filters": {
            "conjunction": "or",
            "items": [
                {
                    "filter": "filter:tasks:total_annotations",
                    "operator": "greater",
                    "type": "Number",
                    "value": 0,
                },
                {
                    "filter": "filter:tasks:cancelled_annotations",
                    "operator": "greater",
                    "type": "Number",
                    "value": 0,
                },
            ],
        },
        "ordering": ["tasks:id"],
    }
)


def _iterate(action: str, pages: Any) -> Iterator[Any]:
    """Items of an SDK pager; the next page is fetched lazily, so errors surface here too."""
    iterator = iter(pages)
    while True:
        try:
            item = _call(action, lambda: next(iterator))
        except StopIteration:
            return
        yield item


def _json(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()


def _kazi_task_id(task: Mapping[str, Any], index: int) -> str:
    data = task.get("data")
    if not isinstance(data, Mapping) or not data.get(KAZI_TASK_ID_KEY):
        raise ValueError(f"task {index} has no data.{KAZI_TASK_ID_KEY}")
    return str(data[KAZI_TASK_ID_KEY])


def _annotation_row(annotation: Mapping[str, Any], task_id: int | None) -> dict[str, Any]:
    row = {key: annotation.get(key) for key in ANNOTATION_FIELDS}
    completed_by = row["completed_by"]
    # A plain id, or the expanded user object on some endpoints.
    if isinstance(completed_by, Mapping):
        row["completed_by"] = completed_by.get("id")
    if row["task"] is None:
        row["task"] = task_id
    return row
