"""Scoring, consensus, worker skill and QA review (the ``score`` stage's use cases).

When every answer slot of a job is filled (or its deadline passed), ``score_job`` merges each
task's answers (skill-weighted), scores every answer against gold or the consensus, updates
worker skills and tiers, and sends low-agreement results plus a random sample to review. A
reviewer's accepted or corrected result is final and re-scores the workers who answered.

The use cases live in small modules; this one is their public face.
"""

from __future__ import annotations

from engine.quality.feedback import feedback_for_worker
from engine.quality.review import (
    ReviewLease,
    finish_review,
    lease_review,
    review_lease_for_task,
    submit_review,
    submit_review_and_check_done,
)
from engine.quality.scoring import ready_to_score, score_job
from engine.quality.settings import QualitySettings
from engine.work.service import WorkError

__all__ = [
    "QualitySettings", "ReviewLease", "WorkError", "feedback_for_worker", "finish_review",
    "lease_review", "ready_to_score", "review_lease_for_task", "score_job", "submit_review",
    "submit_review_and_check_done",
]  # fmt: skip
