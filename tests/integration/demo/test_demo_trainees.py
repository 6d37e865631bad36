"""The demo's trainees are set up as programme staff would for the worker app: a training path
seeded from the sample clips, each trainee on it, a one-time login code each, and no Label
Studio account (run on a demo run's own embedded state, so nothing reaches the shared test
database)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from engine.bootstrap import EngineContext, build_context
from engine.demo.run_demo import _register_crowd, _run_dir, _seed_training, run_environment
from engine.demo.samples_dir import SAMPLES_DIR
from engine.settings import Settings


def _demo_context(root: Path, monkeypatch: pytest.MonkeyPatch) -> EngineContext:
    for name, value in run_environment(_run_dir(root)).items():
        monkeypatch.setenv(name, value)
    for secret in ("SIGNING_SECRET", "WEBHOOK_SECRET", "DATA_KEY"):
        monkeypatch.delenv(f"KAZI_{secret}", raising=False)  # embedded: made per run
    return build_context(Settings())


def test_trainees_get_login_codes_and_training_but_no_label_studio_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.domain.training_path import TrainingSet, TrainingStage
    from engine.worker_app.sessions import LoginCodeRefused, redeem_login_code

    ctx = _demo_context(tmp_path, monkeypatch)
    out = io.StringIO()
    console = Console(file=out, width=200)
    training = _seed_training(ctx, SAMPLES_DIR, console)
    with ctx.uow() as uow:
        practice = uow.training.items(TrainingSet.PRACTICE)
        qualification = uow.training.items(TrainingSet.QUALIFICATION)
    assert len(practice) == 3 and len(qualification) == 2
    assert set(training) == {item.id for item in practice + qualification}
    assert all(item.lowres_media_key and ctx.store.exists(item.lowres_media_key)
               for item in practice + qualification)  # fmt: skip

    crowd, _, payees = _register_crowd(ctx, 7, console)
    assert len(crowd) == 5 and len(payees) == 6  # five trainees and the QA reviewer
    now = datetime.now(UTC)
    for trainee in crowd:
        with ctx.uow() as uow:
            worker = uow.workers.get(trainee.worker_id)
            assert worker is not None and worker.tier == "trainee"
            assert worker.ls_user_id is None and worker.ls_token is None
            assert uow.training.stage_of(worker.id) is TrainingStage.NOT_STARTED
        _, session = ctx.in_unit_of_work(redeem_login_code, trainee.login_code, now)
        assert session.worker_id == trainee.worker_id
        with pytest.raises(LoginCodeRefused):  # one use
            ctx.in_unit_of_work(redeem_login_code, trainee.login_code, now)
    assert "no Label Studio account" in out.getvalue()
