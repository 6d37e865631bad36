"""All SQL of training: items, each trainee's progress and their attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.db.training_models import TrainingAttemptRow, TrainingItemRow, TrainingProgressRow
from engine.domain.training_path import ItemRef, TrainingProgress, TrainingSet, TrainingStage


@dataclass(frozen=True)
class TrainingItem:
    id: int
    kind: str
    set_name: TrainingSet
    position: int
    media_key: str
    lowres_media_key: str | None
    source_name: str
    expected: dict[str, Any]
    labels: list[str]


@dataclass(frozen=True)
class TrainingAttempt:
    id: int
    item_id: int
    set_name: TrainingSet
    round: int
    client_id: str
    answer: dict[str, Any]
    score: float
    passed: bool
    created_at: datetime


def _item(row: TrainingItemRow) -> TrainingItem:
    return TrainingItem(
        row.id, row.kind, TrainingSet(row.set_name), row.position, row.media_key,
        row.lowres_media_key, row.source_name, dict(row.expected), list(row.labels or []),
    )  # fmt: skip


def _attempt(row: TrainingAttemptRow) -> TrainingAttempt:
    return TrainingAttempt(
        row.id, row.item_id, TrainingSet(row.set_name), row.round, row.client_id,
        dict(row.answer), row.score, row.passed, row.created_at,
    )  # fmt: skip


def _progress(row: TrainingProgressRow) -> TrainingProgress:
    return TrainingProgress(
        TrainingStage(row.stage), row.practice_done, row.round, row.failed_rounds, row.last_score
    )


class TrainingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- items --------------------------------------------------------------------------------

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
        position = self.session.scalar(
            select(func.coalesce(func.max(TrainingItemRow.position), 0)).where(
                TrainingItemRow.set_name == set_name.value
            )
        )
        row = TrainingItemRow(
            kind=kind, set_name=set_name.value, position=int(position or 0) + 1,
            media_key=media_key, lowres_media_key=lowres_media_key,
            source_name=source_name[:300], expected=expected, labels=labels,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return _item(row)

    def item(self, item_id: int) -> TrainingItem | None:
        row = self.session.get(TrainingItemRow, item_id)
        return _item(row) if row is not None else None

    def items(self, set_name: TrainingSet | None = None) -> list[TrainingItem]:
        query = select(TrainingItemRow).order_by(
            TrainingItemRow.set_name, TrainingItemRow.position, TrainingItemRow.id
        )
        if set_name is not None:
            query = query.where(TrainingItemRow.set_name == set_name.value)
        return [_item(row) for row in self.session.scalars(query)]

    def item_refs(self, set_name: TrainingSet) -> list[ItemRef]:
        rows = self.session.execute(
            select(TrainingItemRow.id, TrainingItemRow.position).where(
                TrainingItemRow.set_name == set_name.value
            )
        )
        return [ItemRef(int(r[0]), int(r[1])) for r in rows]

    def count_items(self, set_name: TrainingSet) -> int:
        return int(
            self.session.scalar(
                select(func.count(TrainingItemRow.id)).where(
                    TrainingItemRow.set_name == set_name.value
                )
            )
            or 0
        )

    # -- progress -----------------------------------------------------------------------------

    def stage_of(self, worker_id: str) -> TrainingStage | None:
        """The worker's stage, or None when the worker has no training record (not gated)."""
        stage = self.session.scalar(
            select(TrainingProgressRow.stage).where(TrainingProgressRow.worker_id == worker_id)
        )
        return TrainingStage(stage) if stage is not None else None

    def progress(self, worker_id: str, *, for_update: bool = False) -> TrainingProgress | None:
        query = select(TrainingProgressRow).where(TrainingProgressRow.worker_id == worker_id)
        if for_update:
            # A worker's answers go one at a time: two sends of one form cannot both count.
            query = query.with_for_update(key_share=True)
        row = self.session.scalars(query).one_or_none()
        return _progress(row) if row is not None else None

    def add_progress(self, worker_id: str) -> TrainingProgress:
        row = TrainingProgressRow(worker_id=worker_id, stage=TrainingStage.NOT_STARTED.value)
        self.session.add(row)
        self.session.flush()
        return _progress(row)

    def save_progress(self, worker_id: str, progress: TrainingProgress, now: datetime) -> None:
        row = self.session.get(TrainingProgressRow, worker_id)
        if row is None:
            raise LookupError(f"no training record for worker {worker_id}")
        if progress.stage is TrainingStage.QUALIFIED and row.stage != progress.stage.value:
            row.qualified_at = now
        row.stage = progress.stage.value
        row.practice_done = progress.practice_done
        row.round = progress.round
        row.failed_rounds = progress.failed_rounds
        row.last_score = progress.last_score
        row.updated_at = now

    # -- attempts -----------------------------------------------------------------------------

    def attempt_by_client_id(self, worker_id: str, client_id: str) -> TrainingAttempt | None:
        row = self.session.scalars(
            select(TrainingAttemptRow).where(
                TrainingAttemptRow.worker_id == worker_id,
                TrainingAttemptRow.client_id == client_id,
            )
        ).one_or_none()
        return _attempt(row) if row is not None else None

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
        row = TrainingAttemptRow(
            worker_id=worker_id, item_id=item_id, set_name=set_name.value, round=round,
            client_id=client_id, answer=answer, score=score, passed=passed, created_at=now,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return _attempt(row)

    def practice_answer_counts(self, worker_id: str) -> dict[int, int]:
        """Practice item id -> how many times the worker answered it (every round)."""
        rows = self.session.execute(
            select(TrainingAttemptRow.item_id, func.count(TrainingAttemptRow.id))
            .where(
                TrainingAttemptRow.worker_id == worker_id,
                TrainingAttemptRow.set_name == TrainingSet.PRACTICE.value,
            )
            .group_by(TrainingAttemptRow.item_id)
        )
        return {int(r[0]): int(r[1]) for r in rows}

    def round_attempts(self, worker_id: str, round: int) -> list[TrainingAttempt]:
        """The worker's qualification answers in one round, in the order given."""
        rows = self.session.scalars(
            select(TrainingAttemptRow)
            .where(
                TrainingAttemptRow.worker_id == worker_id,
                TrainingAttemptRow.set_name == TrainingSet.QUALIFICATION.value,
                TrainingAttemptRow.round == round,
            )
            .order_by(TrainingAttemptRow.id)
        )
        return [_attempt(row) for row in rows]

    def recent_practice_scores(self, worker_id: str, limit: int = 5) -> list[float]:
        rows = self.session.scalars(
            select(TrainingAttemptRow.score)
            .where(
                TrainingAttemptRow.worker_id == worker_id,
                TrainingAttemptRow.set_name == TrainingSet.PRACTICE.value,
            )
            .order_by(TrainingAttemptRow.id.desc())
            .limit(limit)
        )
        return [float(s) for s in rows]
