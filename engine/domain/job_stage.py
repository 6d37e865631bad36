"""Job stages and the transitions between them (pure)."""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    TRANSCRIPTION = "transcription"
    IMAGE_CLASSIFICATION = "image_classification"
    IMAGE_BOXES = "image_boxes"

    @property
    def media_type(self) -> str:
        return "audio" if self is JobKind.TRANSCRIPTION else "image"

    @property
    def needs_labels(self) -> bool:
        return self is not JobKind.TRANSCRIPTION


class JobStage(StrEnum):
    RECEIVED = "received"
    SPLITTING = "splitting"
    # Tasks exist; audio jobs go on to drafting, image jobs wait for the labeling stage.
    SPLIT = "split"
    DRAFTING = "drafting"
    DRAFTED = "drafted"
    # Answer slots and Label Studio projects are being made.
    PUBLISHING = "publishing"
    # Tasks are out for work: workers lease and answer them.
    LABELING = "labeling"
    # Every task has its answers (or the deadline passed): consensus, scores, skills.
    SCORING = "scoring"
    # QA reviewers check the results under the agreement threshold and a random sample.
    REVIEWING = "reviewing"
    ASSEMBLING = "assembling"
    DELIVERED = "delivered"
    FAILED = "failed"


ALLOWED_TRANSITIONS: dict[JobStage, frozenset[JobStage]] = {
    JobStage.RECEIVED: frozenset({JobStage.SPLITTING, JobStage.FAILED}),
    # X -> X is a redelivered task picking the job up again.
    JobStage.SPLITTING: frozenset({JobStage.SPLITTING, JobStage.SPLIT, JobStage.FAILED}),
    JobStage.SPLIT: frozenset({JobStage.SPLITTING, JobStage.DRAFTING, JobStage.PUBLISHING}),
    JobStage.DRAFTING: frozenset({JobStage.DRAFTING, JobStage.DRAFTED, JobStage.FAILED}),
    # Drafting again with another model version keeps the earlier drafts.
    JobStage.DRAFTED: frozenset({JobStage.DRAFTING, JobStage.PUBLISHING}),
    JobStage.PUBLISHING: frozenset({JobStage.PUBLISHING, JobStage.LABELING, JobStage.FAILED}),
    JobStage.LABELING: frozenset({JobStage.PUBLISHING, JobStage.SCORING}),
    JobStage.SCORING: frozenset(
        {JobStage.SCORING, JobStage.REVIEWING, JobStage.ASSEMBLING, JobStage.FAILED}
    ),
    JobStage.REVIEWING: frozenset({JobStage.ASSEMBLING}),
    JobStage.ASSEMBLING: frozenset({JobStage.ASSEMBLING, JobStage.DELIVERED, JobStage.FAILED}),
    # Assembling again (say, after a late review) replaces the deliverables.
    JobStage.DELIVERED: frozenset({JobStage.ASSEMBLING}),
    JobStage.FAILED: frozenset(),
}


class StageTransitionError(ValueError):
    pass


def check_transition(current: JobStage, target: JobStage) -> None:
    if target not in ALLOWED_TRANSITIONS[current]:
        raise StageTransitionError(f"job cannot move from {current.value!r} to {target.value!r}")


def is_settled(kind: JobKind, stage: JobStage) -> bool:
    """True when the engine has no queued work of its own left for the job (a waiting client
    stops here): it waits for people (workers, reviewers), it is delivered, or it failed."""
    return stage in (JobStage.LABELING, JobStage.REVIEWING, JobStage.DELIVERED, JobStage.FAILED)


def is_open_for_work(stage: str) -> bool:
    return stage == JobStage.LABELING.value


def needs_drafts(kind: JobKind) -> bool:
    return kind is JobKind.TRANSCRIPTION
