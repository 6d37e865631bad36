"""The routing table: every stage the engine owes work on has exactly one resuming task, and
a job walks the whole pipeline by following it."""

from __future__ import annotations

import pytest

from engine.domain.job_stage import ALLOWED_TRANSITIONS, JobKind, JobStage
from engine.pipeline import routing
from engine.pipeline.routing import JobFacts, on_entering, on_stall

AUDIO = JobFacts(JobKind.TRANSCRIPTION)
IMAGES = JobFacts(JobKind.IMAGE_BOXES)

# What each queued task moves the job to when it succeeds (how the workers behave).
TASK_RESULT = {
    routing.SPLIT_JOB.task: JobStage.SPLIT,
    routing.DRAFT_JOB.task: JobStage.DRAFTED,
    routing.PUBLISH_JOB.task: JobStage.LABELING,
    routing.ASSEMBLE_JOB.task: JobStage.DELIVERED,
}


@pytest.mark.parametrize(
    ("stage", "facts", "task"),
    [
        (JobStage.RECEIVED, AUDIO, "kazi.ingest.split_job"),
        (JobStage.SPLIT, AUDIO, "kazi.asr.draft_job"),
        (JobStage.SPLIT, IMAGES, "kazi.publish.publish_job"),
        (JobStage.DRAFTED, AUDIO, "kazi.publish.publish_job"),
        (JobStage.REVIEWING, AUDIO, "kazi.publish.publish_review"),
        (JobStage.ASSEMBLING, IMAGES, "kazi.assemble.assemble_job"),
        (JobStage.DELIVERED, JobFacts(JobKind.TRANSCRIPTION, has_callback=True),
         "kazi.assemble.notify_client"),
    ],
)  # fmt: skip
def test_entering_a_stage_sends_its_task(stage: JobStage, facts: JobFacts, task: str) -> None:
    step = on_entering(stage, facts)
    assert step is not None and step.task == task
    assert step.queue == task.split(".")[1]


@pytest.mark.parametrize(
    "stage",
    [JobStage.SPLITTING, JobStage.DRAFTING, JobStage.PUBLISHING, JobStage.SCORING,
     JobStage.LABELING, JobStage.FAILED],
)  # fmt: skip
def test_stages_entered_by_their_own_task_or_by_people_send_nothing(stage: JobStage) -> None:
    assert on_entering(stage, AUDIO) is None


def test_delivery_without_a_callback_sends_nothing() -> None:
    assert on_entering(JobStage.DELIVERED, AUDIO) is None


def test_every_engine_stage_resumes_with_a_task_that_can_leave_it() -> None:
    """A resent task must be able to move the job on from where it stalled."""
    for facts in (AUDIO, IMAGES):
        for stage in routing.ENGINE_STAGES:
            step = on_stall(stage, facts)
            assert step is not None, stage
            # The resumed task either is the task of this stage or of the stage before it.
            target = TASK_RESULT.get(step.task)
            if target is not None and target is not stage:
                reachable = {stage, *ALLOWED_TRANSITIONS[stage]}
                assert target in reachable or any(
                    target in ALLOWED_TRANSITIONS[s] for s in reachable
                ), (stage, step.task)


def test_people_owned_and_final_stages_are_never_resent() -> None:
    for stage in (JobStage.LABELING, JobStage.REVIEWING, JobStage.DELIVERED, JobStage.FAILED):
        assert stage not in routing.ENGINE_STAGES
        assert on_stall(stage, AUDIO) is None


@pytest.mark.parametrize("facts", [AUDIO, IMAGES])
def test_a_job_reaches_labeling_by_following_the_table(facts: JobFacts) -> None:
    stage, seen = JobStage.RECEIVED, [JobStage.RECEIVED]
    while stage is not JobStage.LABELING:
        step = on_entering(stage, facts)
        assert step is not None, f"stuck in {stage}"
        stage = TASK_RESULT[step.task]
        seen.append(stage)
        assert len(seen) < 10
    if facts.kind is JobKind.TRANSCRIPTION:
        assert JobStage.DRAFTED in seen
    else:
        assert JobStage.DRAFTED not in seen


def test_every_event_routes_to_a_task() -> None:
    assert set(routing.ON_EVENT) == set(routing.PipelineEvent)
    assert routing.ON_EVENT[routing.PipelineEvent.ANSWERS_COMPLETE] == routing.SCORE_JOB
