"""The random pay world of tests/unit/ledger/ on PostgreSQL itself: the real repository, the
database's constraints and triggers. Each example runs in a transaction rolled back at its end."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings

from engine.ledger.repository import LedgerRepository
from tests.unit.ledger.ledger_world import Op, PayWorld, ops


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=ops)
def test_random_pay_sequences_on_postgresql_keep_every_promise(
    pg_database, sequence: list[Op]
) -> None:  # type: ignore[no-untyped-def]
    from engine.db.session import get_sessionmaker

    with get_sessionmaker(pg_database)() as session:
        world = PayWorld(LedgerRepository(session), f"p{uuid.uuid4().hex[:8]}-")
        for op in sequence:
            world.run(op)
        world.assert_invariants()
        session.rollback()
