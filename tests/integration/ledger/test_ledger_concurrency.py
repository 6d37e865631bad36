"""Many threads post the same earnings and releases over shared accounts at once (one entry or
ten per transaction) on PostgreSQL: every key is written exactly once, every balance row
matches the journal, and nothing deadlocks."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter

from sqlalchemy import text

from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    TransactionKind,
    Transfer,
    entry,
    release_hold_key,
)
from engine.ledger.repository import LedgerRepository

THREADS = 12
KEYS = 120
WORKERS = 4


def test_racing_posts_write_each_key_once_and_keep_the_ledger_whole(pg_database) -> None:  # type: ignore[no-untyped-def]
    from engine.db.session import get_sessionmaker

    sessions = get_sessionmaker(pg_database)
    run = uuid.uuid4().hex[:8]
    reserved = AccountRef(AccountKind.CLIENT_RESERVED, f"job-{run}", "KES")

    def pending(n: int) -> AccountRef:
        return AccountRef(AccountKind.WORKER_PENDING, f"w{n % WORKERS}-{run}", "KES")

    def available(n: int) -> AccountRef:
        return AccountRef(AccountKind.WORKER_AVAILABLE, f"w{n % WORKERS}-{run}", "KES")

    earns = [
        entry(f"earn:answer:{run}-{n}", TransactionKind.EARN, Transfer(reserved, pending(n), n + 1))
        for n in range(KEYS)
    ]
    releases = [
        entry(release_hold_key(e.idempotency_key), TransactionKind.RELEASE_HOLD,
              Transfer(pending(n), available(n), n + 1))
        for n, e in enumerate(earns)
    ]  # fmt: skip
    wins: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def work(seed: int) -> None:
        order = list(range(KEYS))
        random.Random(seed).shuffle(order)
        try:
            start.wait()
            for at in range(0, KEYS, 10):
                chunk = order[at : at + 10]
                if seed % 2:  # half the threads post one entry per transaction
                    batches = [[earns[n]] for n in chunk] + [[releases[n]] for n in chunk]
                else:  # the others post ten earnings at once, as scoring does
                    batches = [[earns[n] for n in chunk], [releases[n] for n in chunk]]
                for batch in batches:
                    with sessions() as session:
                        posted = LedgerRepository(session).post_many(batch)
                        session.commit()
                    with lock:
                        wins.update(
                            e.idempotency_key for e, p in zip(batch, posted, strict=True) if p
                        )
        except BaseException as error:  # reported below, with the thread's seed
            errors.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert set(wins) == {e.idempotency_key for e in earns + releases}
    assert set(wins.values()) == {1}
    with sessions() as session:
        ledger = LedgerRepository(session)
        total = sum(range(1, KEYS + 1))
        assert ledger.balance(reserved) == -total
        assert sum(ledger.balance(available(w)) for w in range(WORKERS)) == total
        assert all(ledger.balance(pending(w)) == 0 for w in range(WORKERS))
        rows = session.execute(
            text("SELECT count(*) FROM journal_transactions WHERE idempotency_key LIKE :k"),
            {"k": f"%{run}-%"},
        ).scalar_one()
        assert rows == 2 * KEYS
        report = ledger.check()
        assert report.clean, report.differences
