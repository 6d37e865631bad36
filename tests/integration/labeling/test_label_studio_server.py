"""Against a real Label Studio (see ``conftest.label_studio``): the recipes in docs/label-studio.md.

Worker accounts: the free edition's ``POST /api/users/`` ignores ``password``, and no API reads
another user's token. A worker signs up through the organisation's invite link instead, and the
logged-in session then reads its legacy token or mints a JWT personal access token.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.types.import_api_request import ImportApiRequest

from engine.labeling.label_studio_server import (
    LABEL_STUDIO_VERSION,
    LabelStudioError,
    LabelStudioServer,
)

pytestmark = pytest.mark.slow

LABEL_CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text">
    <Choice value="yes"/>
    <Choice value="no"/>
  </Choices>
</View>
"""
WORKER_PASSWORD = "Worker-pass-2024"


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@kazi.local"


def csrf_headers(session: httpx.Client) -> dict[str, str]:
    """Session-authenticated POSTs need Django's CSRF token and a same-origin Referer."""
    return {"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{session.base_url}/"}


def sign_up(url: str, admin_token: str, email: str, password: str) -> httpx.Client:
    """A new worker through the invite link; returns its logged-in session."""
    invite = httpx.get(f"{url}/api/invite", headers={"Authorization": f"Token {admin_token}"})
    invite.raise_for_status()
    session = httpx.Client(base_url=url)
    session.get("/user/signup/")  # sets the csrftoken cookie
    response = session.post(
        "/user/signup/",
        params={"token": invite.json()["token"]},
        data={
            "email": email,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{url}/user/signup/"},
    )
    # Success redirects; a rejected form (weak password, taken email) re-renders with 200.
    assert response.status_code == 302, response.text[-2000:]
    return session


def log_in(url: str, email: str, password: str) -> httpx.Client | None:
    session = httpx.Client(base_url=url)
    session.get("/user/login/")
    response = session.post(
        "/user/login/",
        data={
            "email": email,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{url}/user/login/"},
    )
    return session if response.status_code == 302 else None


def legacy_token(session: httpx.Client) -> str:
    response = session.get("/api/current-user/token")
    response.raise_for_status()
    return str(response.json()["token"])


def new_project(client: LabelStudio, title: str, **options: Any) -> int:
    project = client.projects.create(title=title, label_config=LABEL_CONFIG, **options)
    assert project.id is not None  # Optional in the SDK's model
    return project.id


def import_tasks(client: LabelStudio, project_id: int, rows: list[dict[str, Any]]) -> list[int]:
    """Import task data; the ids of the new tasks, in order."""
    response = client.projects.import_tasks(
        id=project_id, request=[ImportApiRequest(data=row) for row in rows], return_task_ids=True
    )
    assert response.task_count == len(rows)
    # Community edition only; not a declared field of the SDK's response model.
    task_ids = (response.model_extra or {})["task_ids"]
    return [int(task_id) for task_id in task_ids]


@pytest.fixture(scope="module")
def admin(label_studio: LabelStudioServer) -> LabelStudio:
    return LabelStudio(base_url=label_studio.url, api_key=label_studio.token)


def test_health_and_version(label_studio: LabelStudioServer) -> None:
    assert httpx.get(f"{label_studio.url}/health").json() == {"status": "UP"}
    version = httpx.get(f"{label_studio.url}/api/version/").json()
    assert version["release"] == LABEL_STUDIO_VERSION
    assert label_studio.database and label_studio.database.startswith("kazi_ls_")
    assert label_studio.postgres.database_exists(label_studio.database)


def test_admin_token_is_a_legacy_token(label_studio: LabelStudioServer, admin: LabelStudio) -> None:
    me = admin.users.whoami()
    assert me.email == label_studio.username
    # The same token as a raw header, for code that skips the SDK.
    response = httpx.get(
        f"{label_studio.url}/api/current-user/whoami", headers=label_studio.auth_headers
    )
    assert response.status_code == 200
    assert httpx.get(f"{label_studio.url}/api/current-user/whoami").status_code == 401


def test_sdk_creates_project_imports_and_lists_tasks(admin: LabelStudio) -> None:
    project_id = new_project(admin, "kazi sdk check")
    task_ids = import_tasks(
        admin, project_id, [{"text": f"sentence {i}", "kazi_segment": f"seg-{i}"} for i in range(3)]
    )
    assert len(task_ids) == 3

    tasks: list[Any] = list(admin.tasks.list(project=project_id))
    assert sorted(t.id for t in tasks) == sorted(task_ids)
    by_id = {t.id: t.data for t in tasks}
    assert [by_id[i]["kazi_segment"] for i in task_ids] == ["seg-0", "seg-1", "seg-2"]
    assert admin.projects.get(id=project_id).task_number == 3


def test_project_title_needs_three_characters(admin: LabelStudio) -> None:
    with pytest.raises(ApiError) as raised:
        admin.projects.create(title="ab", label_config=LABEL_CONFIG)
    assert raised.value.status_code == 400


def test_worker_signs_up_by_invite_and_gets_tokens(
    label_studio: LabelStudioServer, admin: LabelStudio
) -> None:
    email = unique_email("worker")
    session = sign_up(label_studio.url, label_studio.token, email, WORKER_PASSWORD)

    token = legacy_token(session)
    worker = LabelStudio(base_url=label_studio.url, api_key=token)
    assert worker.users.whoami().email == email
    assert email in {u.email for u in admin.users.list()}

    # A JWT personal access token (refresh token); the SDK swaps it for access tokens itself.
    created = session.post("/api/token/", headers=csrf_headers(session))
    assert created.status_code == 201, created.text
    pat = created.json()["token"]
    assert LabelStudio(base_url=label_studio.url, api_key=pat).users.whoami().email == email
    # Only one live personal access token per user.
    assert session.post("/api/token/", headers=csrf_headers(session)).status_code == 409

    # Resetting the legacy token revokes the old one.
    reset = session.post("/api/current-user/reset-token/", headers=csrf_headers(session))
    assert reset.status_code == 201
    new_token = reset.json()["token"]
    assert new_token != token
    assert LabelStudio(base_url=label_studio.url, api_key=new_token).users.whoami().email == email
    with pytest.raises(ApiError) as raised:
        worker.users.whoami()
    assert raised.value.status_code == 401

    # Later logins read the current token.
    again = log_in(label_studio.url, email, WORKER_PASSWORD)
    assert again is not None and legacy_token(again) == new_token


def test_signup_without_invite_is_refused(label_studio: LabelStudioServer) -> None:
    session = httpx.Client(base_url=label_studio.url)
    session.get("/user/signup/")
    response = session.post(
        "/user/signup/",
        data={
            "email": unique_email("stranger"),
            "password": WORKER_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{label_studio.url}/user/signup/"},
    )
    assert response.status_code == 403


def test_user_created_through_api_cannot_log_in(
    label_studio: LabelStudioServer, admin: LabelStudio
) -> None:
    email = unique_email("api-user")
    user = admin.users.create(username=email.split("@")[0], email=email, password=WORKER_PASSWORD)
    assert user.email == email
    # The free edition drops the password: such a user exists (and can be assigned) but has no
    # way to log in or read its token.
    assert log_in(label_studio.url, email, WORKER_PASSWORD) is None


def test_next_task_differs_per_annotator_on_postgres(
    label_studio: LabelStudioServer, admin: LabelStudio
) -> None:
    project_id = new_project(admin, "kazi next task", maximum_annotations=1)
    import_tasks(admin, project_id, [{"text": f"t{i}"} for i in range(4)])
    tokens = [
        legacy_token(
            sign_up(label_studio.url, label_studio.token, unique_email("w"), WORKER_PASSWORD)
        )
        for _ in range(2)
    ]

    def next_task(token: str) -> int:
        response = httpx.get(
            f"{label_studio.url}/api/projects/{project_id}/next",
            headers={"Authorization": f"Token {token}"},
        )
        response.raise_for_status()
        return int(response.json()["id"])

    first, second = next_task(tokens[0]), next_task(tokens[1])
    assert first != second
    # The lock holds: asking again gives the same task back.
    assert next_task(tokens[0]) == first


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((dict(self.headers), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], dict[str, Any]]]]]:
    received: list[tuple[dict[str, str], dict[str, Any]]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_webhook_reaches_loopback(
    admin: LabelStudio,
    webhook_receiver: tuple[str, list[tuple[dict[str, str], dict[str, Any]]]],
) -> None:
    url, received = webhook_receiver
    project_id = new_project(admin, "kazi webhooks")
    admin.webhooks.create(
        url=url,
        project=project_id,
        send_payload=True,
        send_for_all_actions=False,
        actions=["TASKS_CREATED", "ANNOTATION_CREATED"],
        headers={"X-Kazi-Signature": "secret-for-test"},
    )
    [task_id] = import_tasks(admin, project_id, [{"text": "hook me"}])
    admin.annotations.create(
        id=task_id,
        result=[
            {
                "from_name": "label",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": ["yes"]},
            }
        ],
    )
    deadline = time.monotonic() + 30
    while len(received) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    actions = {body["action"]: (headers, body) for headers, body in received}
    assert set(actions) == {"TASKS_CREATED", "ANNOTATION_CREATED"}
    headers, body = actions["ANNOTATION_CREATED"]
    assert headers["X-Kazi-Signature"] == "secret-for-test"
    assert body["task"]["id"] == task_id
    assert body["annotation"]["result"][0]["value"] == {"choices": ["yes"]}


def test_start_refuses_a_taken_port(label_studio: LabelStudioServer) -> None:
    # Label Studio itself would silently move to the next port.
    with pytest.raises(LabelStudioError, match="already in use"):
        LabelStudioServer(port=label_studio.port, database=None).start()


def test_start_without_install_says_how(tmp_path: Any) -> None:
    with pytest.raises(LabelStudioError, match="label_studio.sh install"):
        LabelStudioServer(venv=tmp_path, database=None).start()
