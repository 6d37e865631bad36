"""The crowd driver's worker-app path against the real engine app (``/app``) on the test
database: a gated trainee logs in with a one-time code, goes through practice and the
qualification set, then answers a published image job through the full editor's JSON submit,
as the demo's simulated trainees do. Every answer is filed once, by the app, under the lease's
``client_answer_id``."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from engine.simulation.crowd_driver import CrowdDriverError, answer_via_worker_app
from engine.simulation.error_models import default_crowd
from tests.browser import serve_in_thread
from tests.integration.work.conftest import publish_image_job
from tests.media_samples import png_bytes

CAREFUL = default_crowd(3)[0]
SPEECH_SAMPLES = Path(__file__).resolve().parents[3] / "engine" / "demo" / "samples" / "speech"


@pytest.fixture(scope="module")
def app_url(ctx) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from engine.api.app import create_app

    with serve_in_thread(create_app(ctx)) as url:
        yield url


@pytest.fixture
def training_items(ctx, tmp_path: Path) -> Iterator[dict[int, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """Three practice and one qualification classification items; removed afterwards (a
    qualification set gates every new trainee `kazi workers add` makes in later tests)."""
    from engine.db.training_models import TrainingItemRow
    from engine.domain.job_stage import JobKind
    from engine.domain.training_path import TrainingSet
    from engine.training.media import store_training_media
    from engine.training.service import NewTrainingItem, add_item

    made: dict[int, dict[str, Any]] = {}
    sets = [TrainingSet.PRACTICE] * 3 + [TrainingSet.QUALIFICATION]
    for i, set_name in enumerate(sets):
        image = tmp_path / f"item{i}.png"
        image.write_bytes(png_bytes(30 + i, 20, (10 * i, 90, 40)))
        stored = store_training_media(ctx.store, JobKind.IMAGE_CLASSIFICATION, set_name, image)
        expected = {"label": "cat" if i % 2 else "dog"}
        item = ctx.in_unit_of_work(add_item, NewTrainingItem(
            JobKind.IMAGE_CLASSIFICATION, set_name, stored.media_key, None, stored.source_name,
            expected, ["cat", "dog"]))  # fmt: skip
        made[int(item.id)] = expected
    yield made
    with ctx.sessions() as session, session.begin():
        session.execute(delete(TrainingItemRow).where(TrainingItemRow.id.in_(list(made))))


def _trainee(ctx, *, gated: bool) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    from engine.training.service import require_training
    from engine.worker_app.sessions import issue_login_code
    from engine.workforce.service import register_worker

    def make(uow):  # type: ignore[no-untyped-def]
        w = register_worker(uow, f"app-{uuid.uuid4().hex[:10]}", "trainee")
        if gated:
            require_training(uow, w.id)
        code, _ = issue_login_code(uow, w.handle)
        return w.id, code

    worker_id, code = ctx.in_unit_of_work(make)
    return str(worker_id), str(code)


def _expected_of(ctx) -> Any:  # type: ignore[no-untyped-def]
    """Items other tests left in the shared database are answered from the database too."""

    def truth(item: Mapping[str, Any]) -> Mapping[str, Any] | None:
        with ctx.uow() as uow:
            found = uow.training.item(int(item["item_id"]))
        return dict(found.expected) if found else None

    return truth


def test_a_gated_trainee_trains_then_answers_each_task_once_through_the_app(
    ctx,  # type: ignore[no-untyped-def]
    api,
    app_url: str,
    celery_worker_process,
    training_items: dict[int, dict[str, Any]],
) -> None:
    from engine.db.models import AnswerRow, LeaseRow
    from engine.training.service import training_summary

    _, auth = _client(ctx)
    job_id = publish_image_job(api, ctx, auth, celery_worker_process, 3, overlap=1)
    truth_by_task = _truths(ctx, job_id)
    worker_id, code = _trainee(ctx, gated=True)
    asked: list[str] = []

    def truth_for(task: Mapping[str, Any]) -> Mapping[str, Any] | None:
        asked.append(str(task["task_id"]))
        if str(task["task_id"]) not in truth_by_task:
            return _any_answer(task)  # an older test's job, served first (oldest job first)
        assert task["kind"] == "image_classification" and task["labels"] == ("cat", "dog")
        return truth_by_task[str(task["task_id"])]

    n = answer_via_worker_app(app_url, code, CAREFUL, truth_for, random.Random(1),
                              training_truth_for=_expected_of(ctx))  # fmt: skip

    assert n >= 3 and set(truth_by_task) <= set(asked) and len(asked) == len(set(asked))
    summary = ctx.in_unit_of_work(training_summary, worker_id)
    assert summary is not None and summary.qualified
    with ctx.sessions() as session:
        answers = session.scalars(
            select(AnswerRow).where(AnswerRow.job_id == job_id, AnswerRow.worker_id == worker_id)
        ).all()
        leases = {
            row.id: row
            for row in session.scalars(select(LeaseRow).where(LeaseRow.worker_id == worker_id))
        }
    assert sorted(a.task_id for a in answers) == sorted(truth_by_task)
    for answer in answers:
        assert answer.client_answer_id == f"app-{answer.lease_id}"
        assert answer.lease_id in leases
        assert set(answer.payload) == {"label"}
    # The code was used: a second login with it is refused.
    with pytest.raises(CrowdDriverError, match="log in"):
        answer_via_worker_app(app_url, code, CAREFUL, truth_for, random.Random(2))


def test_an_ungated_trainee_skips_a_task_it_cannot_answer_and_stops(
    ctx,  # type: ignore[no-untyped-def]
    api,
    app_url: str,
    celery_worker_process,
) -> None:
    from engine.db.models import AnswerRow, LeaseRow

    _, auth = _client(ctx)
    publish_image_job(api, ctx, auth, celery_worker_process, 2, overlap=1)
    worker_id, code = _trainee(ctx, gated=False)
    seen: list[str] = []

    def skip_everything(task: Mapping[str, Any]) -> Mapping[str, Any] | None:
        seen.append(str(task["task_id"]))
        return None

    assert answer_via_worker_app(app_url, code, CAREFUL, skip_everything, random.Random(3)) == 0
    assert seen and len(seen) == len(set(seen))  # each task offered once, then given back
    with ctx.sessions() as session:
        assert not session.scalars(select(AnswerRow).where(AnswerRow.worker_id == worker_id)).all()
        leases = session.scalars(select(LeaseRow).where(LeaseRow.worker_id == worker_id)).all()
    # A skipped task offered again is given back too: the worker holds nothing when it stops.
    assert {lease.task_id for lease in leases} == set(seen)
    assert {lease.outcome for lease in leases} == {"released"}


def _any_answer(task: Mapping[str, Any]) -> dict[str, Any]:
    if task["kind"] == "transcription":
        return {"text": task["draft"] or "hello"}
    if task["kind"] == "image_classification":
        return {"label": task["labels"][0]}
    return {"boxes": []}


def _client(ctx) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from tests.conftest import make_client

    return make_client(ctx)


def _truths(ctx, job_id: str) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    with ctx.uow() as uow:
        ids = [str(t.id) for t, _ in uow.jobs.tasks_page(job_id, 100, 0)]
    return {task_id: {"label": "cat"} for task_id in ids}


def test_a_transcript_goes_in_as_the_light_editors_form_starting_from_the_draft(
    ctx,  # type: ignore[no-untyped-def]
    app_url: str,
    celery_worker_process,
) -> None:
    """One short real clip, drafted by the real model: the driver reads the draft from the text
    box and posts the form (``text``), as the light editor does without JavaScript."""
    import io

    from engine.db.models import AnswerRow
    from engine.jobs.intake import IncomingFile, submit_job
    from schemas.jobs import JobSpec
    from tests.conftest import wait_for_stage

    clip = SPEECH_SAMPLES / "librispeech" / "1089-134691-0000.flac"  # "he could wait no longer"
    client_id, _ = _client(ctx)
    job_id = submit_job(
        ctx.uow(), ctx.store, client_id=client_id,
        spec=JobSpec.model_validate({"kind": "transcription", "overlap": 1, "gold_ratio": 0.0}),
        files=[IncomingFile(clip.name, io.BytesIO(clip.read_bytes()))],
        max_upload_bytes=10**9, max_files=1,
    )  # fmt: skip
    assert wait_for_stage(ctx, job_id, {"labeling", "failed"}, 600, celery_worker_process) == (
        "labeling"
    )
    worker_id, code = _trainee(ctx, gated=False)
    drafts: dict[str, str | None] = {}

    def truth_for(task: Mapping[str, Any]) -> Mapping[str, Any] | None:
        drafts[str(task["task_id"])] = task["draft"]
        return (
            {"text": "he could wait no longer"}
            if task["kind"] == "transcription"
            else (_any_answer(task))
        )

    assert answer_via_worker_app(app_url, code, CAREFUL, truth_for, random.Random(4)) >= 1
    with ctx.sessions() as session:
        answer = session.scalar(
            select(AnswerRow).where(AnswerRow.job_id == job_id, AnswerRow.worker_id == worker_id)
        )
    assert answer is not None and answer.client_answer_id == f"app-{answer.lease_id}"
    assert "wait" in (drafts[answer.task_id] or "").lower()  # the model's draft reached the box
    assert set(answer.payload) == {"text"} and answer.payload["text"].strip()
