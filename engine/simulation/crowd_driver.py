"""Simulated workers answering real work: through the engine's worker API, through the
engine's worker app (``/app``) or through Label Studio, the way a browser worker does (HTTP
only, with httpx; no database access).

Each driver loops until the engine has no more work for the worker (or ``stop_after`` answers),
asks ``truth_for`` for the true answer of each task, spoils it with the worker's
:class:`~engine.simulation.error_models.WorkerProfile` and sends it. Connection errors and 5xx
answers are retried with backoff; an answer is never sent twice (one ``client_answer_id`` per
lease on the worker API; on Label Studio the task is checked for the worker's annotation
before a failed post is sent again).
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from PIL import Image

from engine.domain.job_stage import JobKind
from engine.domain.labeling_payload import (
    KAZI_TASK_ID_KEY,
    LabelingPayloadError,
    annotation_result_from_answer,
    answer_from_annotation,
)
from engine.simulation.error_models import (
    WorkerProfile,
    noisy_boxes,
    noisy_label,
    noisy_transcript,
)

log = logging.getLogger(__name__)

# Gets the true answer ({"text"} | {"label"} | {"boxes"}) for a task, or None to skip it.
TruthFor = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]

REQUEST_TIMEOUT_SECONDS = 30.0
# Pauses between tries of one request (so 1 + 4 tries in all), for connection errors and 5xx.
RETRY_DELAYS_SECONDS = (0.25, 0.5, 1.0, 2.0)
# How long to wait for the engine to hear (by Label Studio's webhook) of an annotation just made
# before the start link moves on to the next task; then the worker gives up.
ENGINE_CATCH_UP_DELAYS_SECONDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
# Spread of one task's time around the worker's typical time (log-normal, sigma).
_TIME_SPREAD = 0.3
_MAX_SECONDS = 86_400.0
_LS_TASK_PATH = re.compile(r"/projects/(\d+)/data/?$")


class CrowdDriverError(RuntimeError):
    """A request failed for good (after retries) or got an answer the driver cannot handle."""


# --- answers -----------------------------------------------------------------------------------


def simulated_answer(
    kind: JobKind | str,
    truth: Mapping[str, Any],
    profile: WorkerProfile,
    rng: random.Random,
    *,
    draft: str | None = None,
    labels: Sequence[str] = (),
    image_size: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """``profile``'s answer for a task whose true answer is ``truth``, in the engine's shape."""
    job_kind = JobKind(kind)
    if job_kind is JobKind.TRANSCRIPTION:
        return {"text": noisy_transcript(str(truth["text"]), profile, rng, draft=draft)}
    if job_kind is JobKind.IMAGE_CLASSIFICATION:
        return {"label": noisy_label(str(truth["label"]), labels, profile, rng)}
    if image_size is None:
        raise CrowdDriverError("a boxes task needs the image size")
    width, height = image_size
    return {
        "boxes": noisy_boxes(truth["boxes"], width, height, profile, rng, labels=labels),
    }


def seconds_spent(profile: WorkerProfile, rng: random.Random) -> float:
    """Time on one task: around the worker's typical time, never the same twice."""
    seconds = profile.seconds_per_task * rng.lognormvariate(0.0, _TIME_SPREAD)
    return round(min(seconds, _MAX_SECONDS), 1)


# --- HTTP --------------------------------------------------------------------------------------


def _send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, tried again after connection errors and 5xx; the last 5xx is returned."""
    for delay in (*RETRY_DELAYS_SECONDS, None):
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            if delay is None:
                raise CrowdDriverError(f"{method} {url}: {exc!r} (gave up after retries)") from exc
            log.info("%s %s failed (%r); retrying in %.2f s", method, url, exc, delay)
        else:
            if response.status_code < 500 or delay is None:
                return response
            log.info("%s %s: %s; retrying in %.2f s", method, url, response.status_code, delay)
        time.sleep(delay)
    raise AssertionError("unreachable")


def _unexpected(response: httpx.Response, action: str) -> CrowdDriverError:
    return CrowdDriverError(
        f"could not {action}: {response.request.method} {response.request.url} answered "
        f"{response.status_code}: {response.text[:500]}"
    )


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


# --- the engine's worker API -------------------------------------------------------------------


def answer_via_worker_api(
    base_url: str,
    worker_key: str,
    profile: WorkerProfile,
    truth_for: TruthFor,
    rng: random.Random,
    *,
    job_id: str | None = None,
    stop_after: int | None = None,
) -> int:
    """Lease, answer and submit through ``POST /v1/work/...`` until there is no work (204) or
    ``stop_after`` answers went in; returns how many answers the engine accepted.

    ``truth_for`` gets the lease JSON. A skipped task (``truth_for`` returns None) is released;
    when the engine offers a skipped task again, the worker stops (nothing new is waiting). A
    submit the engine refuses (409: the lease ran out and the task is full) is not counted. A
    paused worker (403) stops.
    """
    submitted = 0
    skipped_tasks: set[str] = set()
    finished_leases: set[str] = set()
    headers = {"Authorization": f"Bearer {worker_key}"}
    with httpx.Client(
        base_url=base_url.rstrip("/"), headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:
        while stop_after is None or submitted < stop_after:
            response = _send(client, "POST", "/v1/work/next", json=_next_body(job_id))
            if response.status_code == 204:
                break
            if response.status_code == 403:
                log.info("%s is paused: %s", profile.handle, _message(response))
                break
            if response.status_code != 200:
                raise _unexpected(response, "lease the next task")
            lease = response.json()
            lease_id, task_id = str(lease["lease_id"]), str(lease["task_id"])
            if lease_id in finished_leases or task_id in skipped_tasks:
                # Only what this worker already dealt with is on offer: nothing new is waiting.
                if lease_id not in finished_leases:
                    _release(client, lease_id)
                break
            finished_leases.add(lease_id)
            truth = truth_for(lease)
            if truth is None:
                _release(client, lease_id)
                skipped_tasks.add(task_id)
                continue
            if _submit(client, lease, _answer_for_lease(lease, truth, profile, rng), profile, rng):
                submitted += 1
    return submitted


def _next_body(job_id: str | None) -> dict[str, Any]:
    return {"job_id": job_id} if job_id else {}


def _answer_for_lease(
    lease: Mapping[str, Any], truth: Mapping[str, Any], profile: WorkerProfile, rng: random.Random
) -> dict[str, Any]:
    draft = lease.get("draft")
    width, height = lease.get("width"), lease.get("height")
    return simulated_answer(
        lease["kind"],
        truth,
        profile,
        rng,
        draft=draft.get("text") if isinstance(draft, Mapping) else None,
        labels=lease.get("labels") or (),
        image_size=(width, height) if width and height else None,
    )


def _submit(
    client: httpx.Client,
    lease: Mapping[str, Any],
    answer: dict[str, Any],
    profile: WorkerProfile,
    rng: random.Random,
) -> bool:
    """Submit once per lease: retries resend the same ``client_answer_id``, which the engine
    answers with the answer it stored (200, replayed) if an earlier try got through."""
    lease_id = lease["lease_id"]
    body = {
        "client_answer_id": str(uuid.uuid4()),
        "answer": answer,
        "time_spent_seconds": seconds_spent(profile, rng),
    }
    response = _send(client, "POST", f"/v1/work/{lease_id}/submit", json=body)
    if response.status_code in (200, 201):
        return True
    if response.status_code in (404, 409):
        log.info("%s: answer for task %s not recorded: %s",
                 profile.handle, lease.get("task_id"), _message(response))  # fmt: skip
        return False
    raise _unexpected(response, f"submit the answer for lease {lease_id}")


def _release(client: httpx.Client, lease_id: str) -> None:
    response = _send(client, "POST", f"/v1/work/{lease_id}/release")
    # 404/409: the lease ran out or is gone already; either way the task is back in the pool.
    if response.status_code not in (200, 404, 409):
        raise _unexpected(response, f"release lease {lease_id}")


# --- Label Studio ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ProjectConfig:
    kind: JobKind
    labels: tuple[str, ...]


def answer_via_label_studio(
    engine_url: str,
    start_link: str,
    ls_url: str,
    ls_token: str,
    profile: WorkerProfile,
    truth_for: TruthFor,
    rng: random.Random,
    *,
    stop_after: int | None = None,
) -> int:
    """Work through Label Studio like a browser worker; returns how many annotations were made.

    Each round opens the worker's engine start link (``start_link``, absolute or relative to
    ``engine_url``) without following redirects: a 303 to ``.../projects/{pid}/data?task={id}``
    is the leased task, an HTML page means no work (none waiting, or the worker is paused). The
    task is read from Label Studio with the worker's token, ``truth_for`` gets
    ``{"kazi_task_id", "kind", "data"}`` (the kind from the project's labeling config), and
    the noisy answer is posted as the worker's annotation with ``lead_time``. The draft is the
    task's prediction (or ``data.draft_text``); the image size for boxes is ``data.width`` and
    ``data.height`` or, as in a browser, the image's own size.

    The engine hears of an annotation through Label Studio's webhook; until then the start link
    opens the same task again, so the worker waits a little (and gives up after about 16 s).
    A skipped task (``truth_for`` returns None) is cancelled in Label Studio, as its Skip button
    does; the engine keeps that lease until it runs out, so the worker stops there.
    """
    link = urljoin(engine_url.rstrip("/") + "/", start_link)
    submitted = 0
    answered: set[int] = set()
    skipped: set[int] = set()
    projects: dict[int, _ProjectConfig] = {}
    catch_up_round = 0
    with (
        httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS, follow_redirects=False) as engine,
        httpx.Client(
            base_url=ls_url.rstrip("/"),
            headers={"Authorization": f"Token {ls_token}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        ) as label_studio,
    ):
        user_id = int(_get_json(label_studio, "/api/current-user/whoami")["id"])
        while stop_after is None or submitted < stop_after:
            located = _open_start_link(engine, link)
            if located is None:
                break
            project_id, task_id = located
            if task_id in skipped:
                break
            task = _get_json(label_studio, f"/api/tasks/{task_id}")
            if task_id in answered or _annotated_by(task, user_id):
                if catch_up_round >= len(ENGINE_CATCH_UP_DELAYS_SECONDS):
                    log.warning("%s: the engine still leases answered task %s; stopping",
                                profile.handle, task_id)  # fmt: skip
                    break
                time.sleep(ENGINE_CATCH_UP_DELAYS_SECONDS[catch_up_round])
                catch_up_round += 1
                continue
            catch_up_round = 0
            if project_id not in projects:
                projects[project_id] = _project_config(label_studio, project_id)
            project = projects[project_id]
            data = task.get("data") or {}
            truth = truth_for(
                {
                    "kazi_task_id": data.get(KAZI_TASK_ID_KEY),
                    "kind": project.kind.value,
                    "data": data,
                }
            )
            lead_time = seconds_spent(profile, rng)
            if truth is None:
                body: dict[str, Any] = {"result": [], "was_cancelled": True, "lead_time": lead_time}
                _post_annotation(label_studio, task_id, body, user_id)
                skipped.add(task_id)
                continue
            image_size = (
                _image_size(label_studio, data) if project.kind is JobKind.IMAGE_BOXES else None
            )
            answer = simulated_answer(
                project.kind,
                truth,
                profile,
                rng,
                draft=_draft_text(task),
                labels=project.labels,
                image_size=image_size,
            )
            result = annotation_result_from_answer(project.kind, answer, image_size)
            _post_annotation(
                label_studio, task_id, {"result": result, "lead_time": lead_time}, user_id
            )
            answered.add(task_id)
            submitted += 1
    return submitted


def _open_start_link(engine: httpx.Client, link: str) -> tuple[int, int] | None:
    """(Label Studio project id, task id) the start link sends the worker to; None: no work."""
    response = _send(engine, "GET", link)
    if response.is_redirect and "location" in response.headers:
        return _ls_task_of(response.headers["location"])
    if "text/html" in response.headers.get("content-type", ""):
        return None  # the engine's "No work for now" page (nothing waiting, or paused)
    raise _unexpected(response, "open the start link")


def _ls_task_of(location: str) -> tuple[int, int]:
    parts = urlsplit(location)
    match = _LS_TASK_PATH.search(parts.path)
    task = parse_qs(parts.query).get("task", [""])[0]
    if match is None or not task.isdigit():
        raise CrowdDriverError(f"the start link sent the worker to {location!r}, not a task")
    return int(match.group(1)), int(task)


def _get_json(client: httpx.Client, path: str) -> Any:
    response = _send(client, "GET", path)
    if response.status_code != 200:
        raise _unexpected(response, f"read {path}")
    return response.json()


def _annotated_by(task: Mapping[str, Any], user_id: int) -> bool:
    for annotation in task.get("annotations") or ():
        author = annotation.get("completed_by")
        if isinstance(author, Mapping):
            author = author.get("id")
        if author == user_id:
            return True
    return False


def _project_config(client: httpx.Client, project_id: int) -> _ProjectConfig:
    """The task kind and labels, read from the project's labeling config (the names in
    ``configs/labeling/*.xml``)."""
    config = _get_json(client, f"/api/projects/{project_id}").get("label_config") or ""
    return _read_label_config(config, f"project {project_id}")


def _read_label_config(config: str, where: str) -> _ProjectConfig:
    try:
        root = ElementTree.fromstring(config)
    except ElementTree.ParseError as exc:
        raise CrowdDriverError(f"{where} has no readable labeling config") from exc
    if root.find(".//TextArea") is not None:
        return _ProjectConfig(JobKind.TRANSCRIPTION, ())
    for tag, option, kind in (
        ("RectangleLabels", "Label", JobKind.IMAGE_BOXES),
        ("Choices", "Choice", JobKind.IMAGE_CLASSIFICATION),
    ):
        control = root.find(f".//{tag}")
        if control is not None:
            labels = tuple(str(o.get("value")) for o in control.iter(option) if o.get("value"))
            return _ProjectConfig(kind, labels)
    raise CrowdDriverError(f"{where}: no TextArea, RectangleLabels or Choices")


def _draft_text(task: Mapping[str, Any]) -> str | None:
    """The machine draft the worker starts from: the prediction that pre-fills the text box."""
    for prediction in task.get("predictions") or ():
        try:
            text = answer_from_annotation(JobKind.TRANSCRIPTION, prediction.get("result") or [])
        except LabelingPayloadError:
            continue
        if text["text"]:
            return str(text["text"])
    draft = (task.get("data") or {}).get("draft_text")
    return draft if isinstance(draft, str) and draft else None


def _image_size(client: httpx.Client, data: Mapping[str, Any]) -> tuple[int, int]:
    """The task image's size: from the task data when it says, else from the image itself
    (what a browser shows; EXIF-rotated images are shown upright)."""
    width, height = data.get("width"), data.get("height")
    if isinstance(width, int | float) and isinstance(height, int | float) and width and height:
        return int(width), int(height)
    url = data.get("image")
    if not isinstance(url, str) or not url:
        raise CrowdDriverError(f"a boxes task without an image: {dict(data)!r}")
    own = urlsplit(str(client.base_url))
    absolute = urljoin(str(client.base_url) + "/", url)
    if urlsplit(absolute).netloc == own.netloc:
        response = _send(client, "GET", absolute)  # Label Studio's own media: with the token
    else:
        with httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS) as plain:
            response = _send(plain, "GET", absolute, follow_redirects=True)
    if response.status_code != 200:
        raise _unexpected(response, "download the task image")
    with Image.open(io.BytesIO(response.content)) as image:
        size = image.size
        rotated = image.getexif().get(0x0112) in (5, 6, 7, 8)  # EXIF Orientation
    return (size[1], size[0]) if rotated else (size[0], size[1])


def _post_annotation(
    client: httpx.Client, task_id: int, body: Mapping[str, Any], user_id: int
) -> None:
    """Create the worker's annotation once: after a failed try, look before posting again
    (Label Studio may have stored it and only the answer was lost)."""
    path = f"/api/tasks/{task_id}/annotations/"
    for delay in (*RETRY_DELAYS_SECONDS, None):
        failure: str
        try:
            response = client.post(path, json=body)
        except httpx.TransportError as exc:
            failure = repr(exc)
        else:
            if response.status_code in (200, 201):
                return
            if response.status_code < 500:
                raise _unexpected(response, f"annotate task {task_id}")
            failure = f"{response.status_code} {response.text[:200]}"
        if delay is None:
            raise CrowdDriverError(f"POST {path}: {failure} (gave up after retries)")
        log.info("POST %s failed (%s); retrying in %.2f s", path, failure, delay)
        time.sleep(delay)
        if _annotated_by(_get_json(client, f"/api/tasks/{task_id}"), user_id):
            return


# --- the engine's worker app -------------------------------------------------------------------

# Gets the true answer of a training item ({"item_id", "kind", "set"}), or None to stop training.
TrainingTruthFor = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
_TRAINING_ANSWER_PATH = re.compile(r"/app/training/([^/]+)/answer/?$")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# Kinds the full editor's JavaScript posts as JSON (its result converted to the engine's answer).
_JSON_KINDS = frozenset({JobKind.IMAGE_CLASSIFICATION, JobKind.IMAGE_BOXES})


@dataclass
class _Form:
    attrs: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)  # inputs and textareas by name
    radios: list[tuple[str, str]] = field(default_factory=list)  # (name, value), all options

    @property
    def action(self) -> str:
        return self.attrs.get("action", "")


class _FormParser(HTMLParser):
    """The forms of a page with their fields' values (what a browser would submit), and the
    attributes of the elements with an id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []
        self.by_id: dict[str, dict[str, str]] = {}
        self._open: _Form | None = None
        self._textarea: str | None = None
        self._text: list[str] = []
        self.json_scripts: dict[str, str] = {}  # <script type="application/json" id=...>
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "id" in values:
            self.by_id[values["id"]] = values
        if tag == "script" and values.get("type") == "application/json" and values.get("id"):
            self._script, self._text = values["id"], []
        elif tag == "form":
            self._open = _Form(values)
            self.forms.append(self._open)
        elif self._open is not None and tag in ("input", "select") and values.get("name"):
            if values.get("type") == "radio":
                self._open.radios.append((values["name"], values.get("value", "")))
            if values.get("type") not in ("checkbox", "radio") or "checked" in values:
                self._open.fields[values["name"]] = values.get("value", "")
        elif self._open is not None and tag == "textarea" and values.get("name"):
            self._textarea, self._text = values["name"], []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None or self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.json_scripts[self._script] = "".join(self._text)
            self._script = None
        elif tag == "textarea" and self._textarea is not None and self._open is not None:
            # A browser drops one newline right after <textarea>.
            self._open.fields[self._textarea] = "".join(self._text).removeprefix("\n")
            self._textarea = None
        elif tag == "form":
            self._open = None


def _parse(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser


def _browser_client(base_url: str) -> httpx.Client:
    """A cookie-keeping client. Browsers send ``Secure`` cookies to http://127.0.0.1 and
    http://localhost (loopback counts as a secure context); Python's cookie jar does not, so
    cookies a loopback server sets are kept without the flag (the jar's policy cannot say it:
    httpx copies the jar for each request)."""
    client = httpx.Client(
        base_url=base_url.rstrip("/"),
        timeout=REQUEST_TIMEOUT_SECONDS,
        follow_redirects=True,
        headers={"Accept": "text/html,application/xhtml+xml"},
    )

    def loopback_is_secure(response: httpx.Response) -> None:
        if response.request.url.host in _LOOPBACK_HOSTS:
            for cookie in client.cookies.jar:
                cookie.secure = False

    client.event_hooks = {"response": [loopback_is_secure]}
    return client


def answer_via_worker_app(
    base_url: str,
    login_code: str,
    profile: WorkerProfile,
    truth_for: TruthFor,
    rng: random.Random,
    *,
    training_truth_for: TrainingTruthFor | None = None,
    stop_after: int | None = None,
) -> int:
    """Work through the engine's worker app as a phone's browser does; returns how many
    answers the engine filed.

    Logs in with ``login_code`` (``POST /app/login``: the session cookie), follows the training
    path while it offers items (``training_truth_for`` gets ``{"item_id", "kind", "set"}`` and
    returns the expected answer, which the worker spoils with its profile), then loops on
    ``GET /app/task``: the page's ``form#answer-form`` (the DOM contract in
    docs/worker-app.md) names the lease, task, kind and ``client_answer_id``; ``truth_for``
    gets ``{"task_id", "lease_id", "kind", "draft", "labels"}``. A transcription is posted as
    the form (``text``); an image answer as JSON with the ``X-CSRF-Token`` header, as the full
    editor's script does. A page without that form means no work now (or paused, or training
    still required): the worker stops. A skipped task is released (``/skip``); when the same
    lease or a skipped task comes back, nothing new is waiting and the worker stops.
    """
    submitted = 0
    finished_leases: set[str] = set()
    skipped_tasks: set[str] = set()
    retrained = False
    with _browser_client(base_url) as client:
        _app_login(client, login_code)
        if training_truth_for is not None:
            _follow_training(client, profile, training_truth_for, rng)
        while stop_after is None or submitted < stop_after:
            response = _send(client, "GET", "/app/task")
            # 403: a page saying why there is no task for this worker (paused, training).
            if response.status_code not in (200, 403):
                raise _unexpected(response, "open the next task")
            page = _parse(response.text)
            form = next((f for f in page.forms if f.attrs.get("id") == "answer-form"), None)
            if form is None:
                reason = page.by_id.get("no-task", {}).get("data-reason", "no_work")
                if reason == "training" and training_truth_for is not None and not retrained:
                    # Gated: training still to do (e.g. a failed set); one more go, then stop.
                    retrained = True
                    _follow_training(client, profile, training_truth_for, rng)
                    continue
                log.info("%s: no task for now (%s)", profile.handle, reason)
                break
            lease_id, task_id = form.attrs["data-lease-id"], form.attrs["data-task-id"]
            if lease_id in finished_leases or task_id in skipped_tasks:
                # Only what this worker already dealt with is on offer: nothing new is waiting.
                if lease_id not in finished_leases:
                    _app_skip(client, page, lease_id, form.fields.get("csrf_token", ""))
                break
            finished_leases.add(lease_id)
            task = _task_of_page(client, form, page)
            truth = truth_for(task)
            if truth is None:
                _app_skip(client, page, lease_id, form.fields.get("csrf_token", ""))
                skipped_tasks.add(task_id)
                continue
            answer = simulated_answer(
                task["kind"],
                truth,
                profile,
                rng,
                draft=task["draft"],
                labels=task["labels"],
                image_size=task["image_size"],
            )
            if _app_submit(client, form, task["kind"], answer, seconds_spent(profile, rng)):
                submitted += 1
    return submitted


def _app_login(client: httpx.Client, code: str) -> None:
    page = _parse(_send(client, "GET", "/app/login").text)
    form = next((f for f in page.forms if f.attrs.get("id") == "login-form"), None)
    fields = {**(form.fields if form else {}), "code": code}
    response = _send(client, "POST", "/app/login", data=fields)
    if response.url.path.rstrip("/").endswith("/app/login") or response.status_code >= 400:
        raise _unexpected(response, "log in to the worker app with the code")
    if not any(True for _ in client.cookies.jar):
        raise CrowdDriverError("the worker app's login set no session cookie")


def _follow_training(
    client: httpx.Client,
    profile: WorkerProfile,
    truth_for: TrainingTruthFor,
    rng: random.Random,
) -> int:
    """Answer the training items the app offers (practice, then qualification) until it offers
    none; returns how many were answered."""
    answered = 0
    seen: dict[str, int] = {}
    while True:
        response = _send(client, "GET", "/app/training/next")
        if response.status_code != 200:
            return answered
        page = _parse(response.text)
        form = next((f for f in page.forms if _TRAINING_ANSWER_PATH.search(f.action)), None)
        if form is None:
            return answered
        match = _TRAINING_ANSWER_PATH.search(form.action)
        assert match is not None
        item_id = match.group(1)
        # A failed qualification sends the worker back to practice: items come round again,
        # but a worker who keeps failing gives up rather than loop for ever.
        seen[item_id] = seen.get(item_id, 0) + 1
        if seen[item_id] > 3:
            log.info("%s: still training after three rounds; giving up", profile.handle)
            return answered
        kind = JobKind(form.attrs.get("data-kind") or JobKind.TRANSCRIPTION.value)
        item = {"item_id": item_id, "kind": kind.value, "set": form.attrs.get("data-set", "")}
        truth = truth_for(item)
        if truth is None:
            return answered
        draft = form.fields.get("text") or None
        answer = simulated_answer(
            kind, truth, profile, rng, draft=draft, labels=_labels_of(form, page)
        )
        fields = dict(form.fields)
        if kind is JobKind.TRANSCRIPTION:
            fields["text"] = str(answer["text"])
        elif kind is JobKind.IMAGE_CLASSIFICATION:
            fields["label"] = str(answer["label"])
        else:
            fields["boxes"] = json.dumps(answer["boxes"])
        done = _send(client, "POST", form.action, data=fields)
        if done.status_code >= 400:
            raise _unexpected(done, f"answer training item {item_id}")
        answered += 1


def _labels_of(form: _Form, page: _FormParser) -> tuple[str, ...]:
    """The labels a training form offers (its radio buttons' values)."""
    del page
    return tuple(v for k, v in form.radios if k == "label")


def _editor_setup(page: _FormParser) -> dict[str, Any]:
    """The full editor's setup (``#editor-setup``: the labeling config and the task)."""
    raw = page.json_scripts.get("editor-setup")
    if not raw:
        return {}
    try:
        setup = json.loads(raw)
    except ValueError as exc:
        raise CrowdDriverError("the full editor's setup is not JSON") from exc
    return setup if isinstance(setup, dict) else {}


def _task_of_page(client: httpx.Client, form: _Form, page: _FormParser) -> dict[str, Any]:
    """What the task page tells the worker: the DOM contract's attributes and fields; for the
    full editor, the labels from its labeling config and, for boxes, the image's own size (what
    the editor measures in the browser)."""
    kind = JobKind(form.attrs["data-kind"])
    setup = _editor_setup(page)
    labels: tuple[str, ...] = ()
    image_size: tuple[float, float] | None = None
    draft = form.fields.get("text") or None
    if setup:
        labels = _read_label_config(str(setup.get("config") or ""), "the full editor").labels
        data = (setup.get("task") or {}).get("data") or {}
        if kind is JobKind.IMAGE_BOXES:
            width, height = _image_size(client, data)
            image_size = (float(width), float(height))
        if kind is JobKind.TRANSCRIPTION and draft is None:
            draft = _draft_text(setup.get("task") or {})
    return {
        "task_id": form.attrs["data-task-id"],
        "lease_id": form.attrs["data-lease-id"],
        "kind": kind.value,
        "draft": draft,
        "labels": labels,
        "image_size": image_size,
    }


def _app_submit(
    client: httpx.Client, form: _Form, kind: str, answer: dict[str, Any], seconds: float
) -> bool:
    """One submit per lease, the form's ``client_answer_id`` on every try (a retry after a lost
    response is answered as a replay, not filed twice)."""
    lease_id = form.attrs["data-lease-id"]
    action = form.action or f"/app/task/{lease_id}/submit"
    client_answer_id = form.attrs.get("data-client-answer-id") or form.fields["client_answer_id"]
    csrf = form.fields.get("csrf_token", "")
    if JobKind(kind) in _JSON_KINDS:
        body = {"client_answer_id": client_answer_id, "answer": answer,
                "time_spent_seconds": seconds}  # fmt: skip
        response = _send(
            client, "POST", action, json=body,
            headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
        )  # fmt: skip
        if response.status_code in (200, 201):
            return str(response.json().get("outcome", "filed")) in ("filed", "replayed",
                                                                   "late_filed")  # fmt: skip
    else:
        fields = {**form.fields, "client_answer_id": client_answer_id,
                  "text": str(answer["text"]), "time_spent_seconds": str(seconds)}  # fmt: skip
        response = _send(client, "POST", action, data=fields, follow_redirects=False)
        if response.status_code in (200, 201, 303):
            return True
    if response.status_code in (404, 409):
        log.info("answer for lease %s not recorded: %s", lease_id, _message(response))
        return False
    raise _unexpected(response, f"submit the answer for lease {lease_id}")


def _app_skip(client: httpx.Client, page: _FormParser, lease_id: str, csrf: str) -> None:
    form = next((f for f in page.forms if f.action.endswith(f"/app/task/{lease_id}/skip")), None)
    fields = {**(form.fields if form else {}), "csrf_token": csrf}
    response = _send(client, "POST", f"/app/task/{lease_id}/skip", data=fields,
                     follow_redirects=False)  # fmt: skip
    if response.status_code not in (200, 303, 404, 409):
        raise _unexpected(response, f"skip lease {lease_id}")
