"""An in-memory TrainingRepository for unit tests (the same methods as the real one)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from engine.domain.training_path import ItemRef, TrainingProgress, TrainingSet, TrainingStage
from engine.training.repository import TrainingAttempt, TrainingItem


class FakeTrainingRepository:
    def __init__(self) -> None:
        self.items_by_id: dict[int, TrainingItem] = {}
        self.progress_by_worker: dict[str, TrainingProgress] = {}
        self.attempts: list[tuple[str, TrainingAttempt]] = []
        self.locked: list[str] = []

    def add_item(
        self,
        *,
        kind: str,
        set_name: TrainingSet,
        media_key: str,
        lowres_media_key: str | None,
        source_name: str,
        expected: dict[str, Any],
        labels: list[str],
    ) -> TrainingItem:
        position = 1 + max(
            (i.position for i in self.items_by_id.values() if i.set_name is set_name), default=0
        )
        item = TrainingItem(
            len(self.items_by_id) + 1, kind, set_name, position, media_key, lowres_media_key,
            source_name, dict(expected), list(labels),
        )  # fmt: skip
        self.items_by_id[item.id] = item
        return item

    def item(self, item_id: int) -> TrainingItem | None:
        return self.items_by_id.get(item_id)

    def items(self, set_name: TrainingSet | None = None) -> list[TrainingItem]:
        return sorted(
            (i for i in self.items_by_id.values() if set_name in (None, i.set_name)),
            key=lambda i: (i.set_name.value, i.position, i.id),
        )

    def item_refs(self, set_name: TrainingSet) -> list[ItemRef]:
        return [ItemRef(i.id, i.position) for i in self.items(set_name)]

    def count_items(self, set_name: TrainingSet) -> int:
        return len(self.items(set_name))

    def stage_of(self, worker_id: str) -> TrainingStage | None:
        progress = self.progress_by_worker.get(worker_id)
        return progress.stage if progress else None

    def progress(self, worker_id: str, *, for_update: bool = False) -> TrainingProgress | None:
        if for_update:
            self.locked.append(worker_id)
        return self.progress_by_worker.get(worker_id)

    def add_progress(self, worker_id: str) -> TrainingProgress:
        assert worker_id not in self.progress_by_worker
        self.progress_by_worker[worker_id] = TrainingProgress()
        return self.progress_by_worker[worker_id]

    def save_progress(self, worker_id: str, progress: TrainingProgress, now: datetime) -> None:
        if worker_id not in self.progress_by_worker:
            raise LookupError(worker_id)
        self.progress_by_worker[worker_id] = replace(progress)

    def attempt_by_client_id(self, worker_id: str, client_id: str) -> TrainingAttempt | None:
        return next(
            (a for w, a in self.attempts if w == worker_id and a.client_id == client_id), None
        )

    def add_attempt(
        self,
        *,
        worker_id: str,
        item_id: int,
        set_name: TrainingSet,
        round: int,
        client_id: str,
        answer: dict[str, Any],
        score: float,
        passed: bool,
        now: datetime,
    ) -> TrainingAttempt:
        assert self.attempt_by_client_id(worker_id, client_id) is None  # the unique constraint
        attempt = TrainingAttempt(
            len(self.attempts) + 1, item_id, set_name, round, client_id, dict(answer), score,
            passed, now or datetime.now(UTC),
        )  # fmt: skip
        self.attempts.append((worker_id, attempt))
        return attempt

    def practice_answer_counts(self, worker_id: str) -> dict[int, int]:
        counts: dict[int, int] = {}
        for w, a in self.attempts:
            if w == worker_id and a.set_name is TrainingSet.PRACTICE:
                counts[a.item_id] = counts.get(a.item_id, 0) + 1
        return counts

    def round_attempts(self, worker_id: str, round: int) -> list[TrainingAttempt]:
        return [
            a
            for w, a in self.attempts
            if w == worker_id and a.set_name is TrainingSet.QUALIFICATION and a.round == round
        ]

    def recent_practice_scores(self, worker_id: str, limit: int = 5) -> list[float]:
        scores = [
            a.score
            for w, a in self.attempts
            if w == worker_id and a.set_name is TrainingSet.PRACTICE
        ]
        return scores[::-1][:limit]
