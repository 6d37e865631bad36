"""An in-memory PayoutRepository (the part the method and posting use cases touch), for
``FakeUnitOfWork(payouts=FakePayoutRepository(...))``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.db.payout_models import PayoutCallbackRow, PayoutMethodRow, PayoutRow
from engine.domain.payout_states import LIVE_METHOD_STATES, PayoutState

_LIVE = {s.value for s in LIVE_METHOD_STATES}


@dataclass
class FakePayoutRepository:
    workers: set[str] = field(default_factory=set)
    methods: list[PayoutMethodRow] = field(default_factory=list)
    payouts: list[PayoutRow] = field(default_factory=list)
    results: list[PayoutCallbackRow] = field(default_factory=list)
    other: list[Any] = field(default_factory=list)

    def lock_worker(self, worker_id: str) -> object | None:
        return object() if worker_id in self.workers else None

    def live_method(self, worker_id: str, *, for_update: bool = False) -> PayoutMethodRow | None:
        live = [m for m in self.methods if m.worker_id == worker_id and m.state in _LIVE]
        assert len(live) <= 1, "the unique index allows one live method"
        return live[0] if live else None

    def method(self, method_id: str) -> PayoutMethodRow | None:
        return next((m for m in self.methods if m.id == method_id), None)

    def add(self, row: Any) -> None:
        if isinstance(row, PayoutMethodRow):
            self.live_method(row.worker_id)
            self.methods.append(row)
            self.live_method(row.worker_id)
        elif isinstance(row, PayoutRow):
            self.payouts.append(row)
        else:
            self.other.append(row)

    def open_payout(self, worker_id: str, currency: str, source: str) -> PayoutRow | None:
        final = {PayoutState.CONFIRMED.value, PayoutState.FAILED.value}
        return next(
            (
                p
                for p in self.payouts
                if (p.worker_id, p.currency, p.source) == (worker_id, currency, source)
                and p.state not in final
            ),
            None,
        )

    def payout(self, payout_id: str, *, for_update: bool = False) -> PayoutRow | None:
        return next((p for p in self.payouts if p.id == payout_id), None)

    def payouts_of_batch(self, batch_id: str) -> list[PayoutRow]:
        return [p for p in self.payouts if p.batch_id == batch_id]

    def batch(self, batch_id: str, *, for_update: bool = False) -> None:
        return None

    def record_result(self, row: PayoutCallbackRow) -> None:
        self.results.append(row)
