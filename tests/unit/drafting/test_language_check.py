"""A job in a language the configured ASR model does not speak gets no draft and a warning."""

from __future__ import annotations

import pytest

from engine.asr.whisper_drafter import model_speaks
from engine.db.models import JobRow, TaskRow
from engine.domain.job_stage import JobKind, JobStage
from engine.drafting.service import start_drafting
from engine.pipeline.routing import DRAFT_BATCH, PUBLISH_JOB
from schemas.jobs import JobSpec
from tests.unit.publishing.fakes import FakeJobRepository, StepUnitOfWork

JOB = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
VERSION = "tiny.en@abc/int8/beam5"


class FakeDrafts:
    def __init__(self, *task_ids: str) -> None:
        self.undrafted = [TaskRow(id=t, job_id=JOB, source_id="s", seq=i, kind="audio_segment",
                                  object_key=f"k/{t}") for i, t in enumerate(task_ids)]  # fmt: skip

    def tasks_without_draft(self, job_id: str, model_version: str) -> list[TaskRow]:
        return list(self.undrafted)


def _english_only(language: str) -> bool:
    return model_speaks(False, "en", language)


def _uow(language: str) -> tuple[StepUnitOfWork, FakeJobRepository]:
    spec = JobSpec(kind=JobKind.TRANSCRIPTION, language=language)
    job = JobRow(id=JOB, client_id="c", kind="transcription", stage=JobStage.SPLIT.value,
                 spec=spec.model_dump(mode="json"))  # fmt: skip
    jobs = FakeJobRepository(job)
    return StepUnitOfWork(jobs=jobs, drafts=FakeDrafts("t1", "t2")), jobs


@pytest.mark.parametrize(
    ("multilingual", "configured", "language", "speaks"),
    [
        (False, "en", "en", True),
        (False, "en", "en-GB", True),
        (False, "en", "fr", False),
        (False, "en", "sw", False),
        (True, None, "sw", True),  # language detection: any
        (True, "fr", "fr", True),
        (True, "fr", "de", False),
    ],
)
def test_which_languages_a_model_speaks(
    multilingual: bool, configured: str | None, language: str, speaks: bool
) -> None:
    assert model_speaks(multilingual, configured, language) is speaks


def test_an_unspoken_language_goes_on_undrafted_with_a_warning() -> None:
    uow, jobs = _uow("fr")
    assert start_drafting(uow, JOB, VERSION, 8, speaks=_english_only) == 0
    assert jobs.jobs[JOB].stage == JobStage.DRAFTED.value
    (warning,) = [d for _, s, d in jobs.events if s == JobStage.DRAFTED.value]
    assert warning is not None and warning.startswith("warning: no drafts")
    assert "'fr'" in warning and VERSION in warning
    assert uow.outbox.tasks() == [PUBLISH_JOB.task]  # published undrafted, nothing to draft


def test_a_spoken_language_is_drafted() -> None:
    uow, jobs = _uow("en")
    assert start_drafting(uow, JOB, VERSION, 8, speaks=_english_only) == 1
    assert jobs.jobs[JOB].stage == JobStage.DRAFTING.value
    assert uow.outbox.tasks() == [DRAFT_BATCH.task]
