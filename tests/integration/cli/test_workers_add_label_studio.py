"""``kazi workers add --label-studio``: the Label Studio user is made first, with no transaction
open, then the worker and its mapping are recorded together; refused input makes no Label
Studio user; a Label Studio failure records nothing; a stale mapping of a reset server (the
same address, ids from 1 again) does not block the user's real owner. Label Studio is a fake
(the real sign-up is covered in tests/integration/labeling)."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from engine.cli.app import ExitCode
from engine.cli.main import app
from engine.labeling import gateway_factory
from engine.labeling.label_studio_gateway import LabelStudioUnavailable
from engine.publishing.ls_server import label_studio_server
from engine.workforce.service import label_studio_email, link_label_studio_user, register_worker

runner = CliRunner()
BASE_URL = "http://LS.example.test:8080/"


class FakeAccounts:
    def __init__(self, ctx, user_id: int = 41, fail: bool = False) -> None:  # type: ignore[no-untyped-def]
        self.ctx, self.user_id, self.fail = ctx, user_id, fail
        self.base_url = BASE_URL
        self.signed_up: list[str] = []

    def sign_up_worker(self, email: str, password: str) -> tuple[int, str]:
        handle = email.split("@", 1)[0]
        # Made before anything is recorded: no worker of that handle exists yet.
        with self.ctx.uow() as uow:
            assert uow.workers.by_handle(handle) is None
        self.signed_up.append(email)
        if self.fail:
            raise LabelStudioUnavailable("sign up: connection refused")
        return self.user_id, f"tok-{uuid.uuid4().hex}"


@pytest.fixture
def accounts(ctx, monkeypatch: pytest.MonkeyPatch) -> FakeAccounts:  # type: ignore[no-untyped-def]
    fake = FakeAccounts(ctx, user_id=int(uuid.uuid4().int % 10**6) + 1000)
    monkeypatch.setattr(gateway_factory, "label_studio_gateway", lambda settings: fake)
    return fake


def _handle() -> str:
    return f"w-{uuid.uuid4().hex[:10]}"


def _worker(ctx, handle: str):  # type: ignore[no-untyped-def]
    with ctx.uow() as uow:
        row = uow.workers.by_handle(handle)
        return None if row is None else (row.ls_server, row.ls_user_id, row.ls_email)


def test_the_login_is_made_then_recorded_with_its_server(ctx, accounts):
    handle = _handle()
    result = runner.invoke(app, ["workers", "add", handle, "--label-studio", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["label_studio_email"] == label_studio_email(handle)
    assert accounts.signed_up == [label_studio_email(handle)]
    server = label_studio_server(BASE_URL)
    assert server == "http://ls.example.test:8080"
    assert _worker(ctx, handle) == (server, accounts.user_id, label_studio_email(handle))


def test_a_taken_handle_makes_no_label_studio_user(ctx, accounts):
    handle = _handle()
    ctx.in_unit_of_work(register_worker, handle, "trainee")
    result = runner.invoke(app, ["workers", "add", handle, "--label-studio", "--json"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "exists already" in json.loads(result.stdout)["detail"]
    assert accounts.signed_up == []


def test_a_label_studio_failure_records_no_worker(ctx, accounts):
    accounts.fail = True
    handle = _handle()
    result = runner.invoke(app, ["workers", "add", handle, "--label-studio", "--json"])
    assert result.exit_code == ExitCode.FAILED, result.output
    assert json.loads(result.stdout)["code"] == "label_studio_error"
    assert _worker(ctx, handle) is None


def test_a_stale_mapping_of_a_reset_server_gives_way(ctx, accounts):
    stale = _handle()
    server = label_studio_server(BASE_URL)

    def old_login(uow):  # type: ignore[no-untyped-def]
        worker = register_worker(uow, stale, "trainee")
        link_label_studio_user(uow, worker.id, accounts.user_id, label_studio_email(stale),
                               "tok" * 10, ctx.token_cipher, ls_server=server)  # fmt: skip

    ctx.in_unit_of_work(old_login)
    handle = _handle()  # the reset server hands the same user id to this worker's email
    result = runner.invoke(app, ["workers", "add", handle, "--label-studio", "--json"])
    assert result.exit_code == 0, result.output
    assert _worker(ctx, handle) == (server, accounts.user_id, label_studio_email(handle))
    assert _worker(ctx, stale) == (None, None, None)
