"""What each worker sees of how its answers scored."""

from __future__ import annotations

from typing import Any

from engine.db.models import AnswerRow, AnswerScoreRow
from engine.domain.result_states import ResultStatus, ScoreReference
from engine.domain.scoring import word_diff
from engine.unit_of_work import UnitOfWork


def _expected(uow: UnitOfWork, score: AnswerScoreRow, answer: AnswerRow) -> dict[str, Any] | None:
    """The final result once there is one. A client's gold answer is never shown: the same
    gold tasks come back to every worker of a job, and a reference one trainee reads is one they
    all can share (practice with shown answers is the training path's, engine/training)."""
    if score.against == ScoreReference.GOLD.value:
        return None
    result = uow.quality.result(answer.task_id)
    return result.final if result and result.status == ResultStatus.FINAL.value else None


def feedback_for_worker(uow: UnitOfWork, worker_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Each scored answer with its score and, once the task's result is final, the word-level
    diff against it (text) or the expected answer; gold-scored answers show the score only."""
    items = []
    for score in uow.quality.scores_of_worker(worker_id, limit):
        answer = uow.quality.answer(score.answer_id)
        if answer is None:
            continue
        expected = _expected(uow, score, answer)
        item: dict[str, Any] = {
            "answer_id": answer.id, "task_id": answer.task_id, "job_id": answer.job_id,
            "submitted_at": answer.created_at.isoformat(), "scored_against": score.against,
            "score": round(score.score, 4), "wer": score.wer, "cer": score.cer,
            "correct": score.correct, "your_answer": answer.payload, "expected": expected,
        }  # fmt: skip
        if expected is not None and "text" in expected:
            item["diff"] = [
                {
                    "op": e.operation,
                    "expected": " ".join(e.reference_words),
                    "yours": " ".join(e.hypothesis_words),
                }  # fmt: skip
                for e in word_diff(expected["text"], answer.payload.get("text", ""))
            ]
        items.append(item)
    return items
