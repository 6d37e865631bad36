"""The whole routing table: which task takes a job on after each pipeline event (pure).

Nothing else in the engine decides what runs next. A stage change (``move_job_to``) and the
events below write their next step into the outbox in the same transaction; the relay sends
it. Every task named here is idempotent, so a step sent twice (a resend after a stall, a
redelivery) does nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from engine.domain.job_stage import JobKind, JobStage, needs_drafts


@dataclass(frozen=True)
class Step:
    task: str
    queue: str


SPLIT_JOB = Step("kazi.ingest.split_job", "ingest")
DRAFT_JOB = Step("kazi.asr.draft_job", "asr")
DRAFT_BATCH = Step("kazi.asr.draft_batch", "asr")
PUBLISH_JOB = Step("kazi.publish.publish_job", "publish")
PUBLISH_REVIEW = Step("kazi.publish.publish_review", "publish")
SCORE_JOB = Step("kazi.score.score_job", "score")
FINISH_REVIEW = Step("kazi.score.finish_review", "score")
ASSEMBLE_JOB = Step("kazi.assemble.assemble_job", "assemble")
NOTIFY_CLIENT = Step("kazi.assemble.notify_client", "assemble")


class PipelineEvent(StrEnum):
    """Events that are not a stage change."""

    BATCH_TO_DRAFT = "batch_to_draft"  # args: job id, task ids
    ANSWERS_COMPLETE = "answers_complete"  # every answer slot of a labeling job is answered
    REVIEWS_COMPLETE = "reviews_complete"  # no result of a reviewing job waits for review


@dataclass(frozen=True)
class JobFacts:
    kind: JobKind
    has_callback: bool = False


# Stage entered -> the task that takes the job on from there (None: people or nothing next).
def on_entering(stage: JobStage, job: JobFacts) -> Step | None:
    match stage:
        case JobStage.RECEIVED:
            return SPLIT_JOB
        case JobStage.SPLIT:
            return DRAFT_JOB if needs_drafts(job.kind) else PUBLISH_JOB
        case JobStage.DRAFTED:
            return PUBLISH_JOB
        case JobStage.REVIEWING:
            return PUBLISH_REVIEW  # a no-op without Label Studio; the review API serves anyway
        case JobStage.ASSEMBLING:
            return ASSEMBLE_JOB
        case JobStage.DELIVERED:
            return NOTIFY_CLIENT if job.has_callback else None
    # splitting, drafting, publishing, scoring: entered by the task already running them;
    # labeling, reviewing's answers: people; failed: nothing.
    return None


# Stage a job stalled in (no heartbeat for stage_stall_seconds) -> the task that resumes it.
def on_stall(stage: JobStage, job: JobFacts) -> Step | None:
    match stage:
        case JobStage.RECEIVED | JobStage.SPLITTING:
            return SPLIT_JOB
        case JobStage.SPLIT:
            return DRAFT_JOB if needs_drafts(job.kind) else PUBLISH_JOB
        case JobStage.DRAFTING:
            return DRAFT_JOB
        case JobStage.DRAFTED | JobStage.PUBLISHING:
            return PUBLISH_JOB
        case JobStage.SCORING:
            return SCORE_JOB
        case JobStage.ASSEMBLING:
            return ASSEMBLE_JOB
    return None


ON_EVENT: Mapping[PipelineEvent, Step] = {
    PipelineEvent.BATCH_TO_DRAFT: DRAFT_BATCH,
    PipelineEvent.ANSWERS_COMPLETE: SCORE_JOB,
    PipelineEvent.REVIEWS_COMPLETE: FINISH_REVIEW,
}

# Stages in which the engine itself owes the job work (the stall sweep watches these).
ENGINE_STAGES: frozenset[JobStage] = frozenset(
    s for s in JobStage if on_stall(s, JobFacts(JobKind.TRANSCRIPTION)) is not None
)

QUEUES: tuple[str, ...] = ("ingest", "asr", "publish", "score", "assemble")
