"""The training gate of paid work: a worker with a training record gets paid tasks only once
qualified. Workers without a record (API workers, staff-added qualified workers) pass."""

from __future__ import annotations

from engine.domain.training_path import TrainingStage
from engine.errors import KaziError
from engine.unit_of_work import UnitOfWork


class TrainingRequired(KaziError):
    status = 403
    code = "training_required"


def training_gate(uow: UnitOfWork, worker_id: str) -> None:
    """Raise TrainingRequired (403) unless the worker is untracked or qualified."""
    stage = uow.training.stage_of(worker_id)
    if stage is not None and stage is not TrainingStage.QUALIFIED:
        raise TrainingRequired(
            "finish your training first: practice tasks and the qualification set open paid work"
        )
