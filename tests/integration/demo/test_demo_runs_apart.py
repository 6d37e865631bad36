"""`kazi demo` runs any number of times in one checkout: each run's state is its own, so the
Label Studio ids of an earlier run's (deleted) Label Studio never meet the next run's."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from engine.bootstrap import EngineContext, build_context
from engine.demo.run_demo import _run_dir, run_environment
from engine.settings import Settings
from engine.workforce.service import link_label_studio_user, register_worker


def _demo_run(root: Path, monkeypatch: pytest.MonkeyPatch) -> EngineContext:
    """What one run sets up before its first Label Studio id is recorded."""
    with monkeypatch.context() as env:
        for name, value in run_environment(_run_dir(root)).items():
            env.setenv(name, value)
        for secret in ("SIGNING_SECRET", "WEBHOOK_SECRET", "DATA_KEY"):
            env.delenv(f"KAZI_{secret}", raising=False)  # embedded: made per run
        return build_context(Settings())


def _enrol(ctx: EngineContext, handle: str, ls_user_id: int) -> None:
    def enrol(uow, handle: str) -> None:  # type: ignore[no-untyped-def]
        worker = register_worker(uow, handle, "trainee")
        link_label_studio_user(uow, worker.id, ls_user_id, f"{handle}@demo.test", "tok" * 10,
                               ctx.token_cipher)  # fmt: skip

    ctx.in_unit_of_work(enrol, handle)


def test_two_runs_record_the_same_label_studio_ids_without_a_clash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _demo_run(tmp_path, monkeypatch)
    second = _demo_run(tmp_path, monkeypatch)
    assert first.settings.var_dir != second.settings.var_dir
    assert first.settings.resolved_database_url() != second.settings.resolved_database_url()
    assert first.settings.resolved_database_url().startswith("sqlite:///")
    assert first.settings.broker_folder() != second.settings.broker_folder()
    assert first.settings.resolved_store_dir() != second.settings.resolved_store_dir()

    # A fresh Label Studio numbers its users from 1 again, in either run.
    _enrol(first, "demo-a", 1)
    _enrol(second, "demo-a", 1)
    # Within one run's state the id is still unique (what made a second run die before).
    with pytest.raises(IntegrityError):
        _enrol(second, "demo-b", 1)
