"""All SQL for payouts: methods, batches, payouts, received results, staff keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import WorkerRow
from engine.db.payout_models import (
    PayoutBatchRow,
    PayoutCallbackRow,
    PayoutMethodRow,
    PayoutRow,
)
from engine.domain.payout_states import LIVE_METHOD_STATES, RESEND_STATES, PayoutState

_LIVE = [s.value for s in LIVE_METHOD_STATES]


class PayoutRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # methods ------------------------------------------------------------------------------
    def live_method(self, worker_id: str, *, for_update: bool = False) -> PayoutMethodRow | None:
        stmt = select(PayoutMethodRow).where(
            PayoutMethodRow.worker_id == worker_id, PayoutMethodRow.state.in_(_LIVE)
        )
        if for_update:
            stmt = stmt.with_for_update(key_share=True)
        return self.session.scalar(stmt)

    def method(self, method_id: str) -> PayoutMethodRow | None:
        return self.session.get(PayoutMethodRow, method_id)

    def add(self, row: Any) -> None:
        self.session.add(row)
        self.session.flush()

    def lock_worker(self, worker_id: str) -> WorkerRow | None:
        """The worker's row, locked: one payout decision per worker at a time (two runs)."""
        return self.session.scalar(
            select(WorkerRow).where(WorkerRow.id == worker_id).with_for_update(key_share=True)
        )

    def workers_with_methods(self) -> list[str]:
        return list(
            self.session.scalars(
                select(PayoutMethodRow.worker_id)
                .where(PayoutMethodRow.state.in_(_LIVE))
                .order_by(PayoutMethodRow.worker_id)
            )
        )

    def worker_handles(self, worker_ids: Sequence[str]) -> dict[str, str]:
        rows = self.session.execute(
            select(WorkerRow.id, WorkerRow.handle).where(WorkerRow.id.in_(list(worker_ids)))
        )
        return {r.id: r.handle for r in rows}

    # batches and payouts ------------------------------------------------------------------
    def batch(self, batch_id: str, *, for_update: bool = False) -> PayoutBatchRow | None:
        if for_update:
            return self.session.scalar(
                select(PayoutBatchRow)
                .where(PayoutBatchRow.id == batch_id)
                .with_for_update(key_share=True)
            )
        return self.session.get(PayoutBatchRow, batch_id)

    def payout(self, payout_id: str, *, for_update: bool = False) -> PayoutRow | None:
        if for_update:
            return self.session.scalar(
                select(PayoutRow).where(PayoutRow.id == payout_id).with_for_update(key_share=True)
            )
        return self.session.get(PayoutRow, payout_id)

    def open_payout(self, worker_id: str, currency: str, source: str) -> PayoutRow | None:
        return self.session.scalar(
            select(PayoutRow).where(
                PayoutRow.worker_id == worker_id,
                PayoutRow.currency == currency,
                PayoutRow.source == source,
                PayoutRow.state.not_in([PayoutState.CONFIRMED.value, PayoutState.FAILED.value]),
            )
        )

    def payouts_of_batch(self, batch_id: str) -> list[PayoutRow]:
        return list(
            self.session.scalars(
                select(PayoutRow).where(PayoutRow.batch_id == batch_id).order_by(PayoutRow.id)
            )
        )

    def payouts_to_send(self, currency: str, provider: str | None = None) -> list[PayoutRow]:
        """Payouts posted but never sent, or sent without a known answer (any batch)."""
        stmt = select(PayoutRow).where(
            PayoutRow.currency == currency,
            PayoutRow.state.in_([s.value for s in RESEND_STATES]),
        )
        if provider is not None:
            stmt = stmt.where(PayoutRow.provider == provider)
        return list(self.session.scalars(stmt.order_by(PayoutRow.created_at, PayoutRow.id)))

    def payouts_in_state(self, states: Sequence[PayoutState]) -> list[PayoutRow]:
        return list(
            self.session.scalars(
                select(PayoutRow).where(PayoutRow.state.in_([s.value for s in states]))
            )
        )

    def payouts_of_worker(self, worker_id: str) -> list[PayoutRow]:
        return list(
            self.session.scalars(
                select(PayoutRow)
                .where(PayoutRow.worker_id == worker_id)
                .order_by(PayoutRow.created_at)
            )
        )

    # results ------------------------------------------------------------------------------
    def record_result(self, row: PayoutCallbackRow) -> None:
        self.session.add(row)
        self.session.flush()

    def results_of(self, payout_id: str) -> list[PayoutCallbackRow]:
        return list(
            self.session.scalars(
                select(PayoutCallbackRow)
                .where(PayoutCallbackRow.payout_id == payout_id)
                .order_by(PayoutCallbackRow.id)
            )
        )

    def results_with_outcome(self, outcome: str) -> list[PayoutCallbackRow]:
        return list(
            self.session.scalars(
                select(PayoutCallbackRow).where(PayoutCallbackRow.outcome == outcome)
            )
        )
