"""The outbox relay: send committed pipeline messages to the broker, then mark them sent.

No database lock is held while sending. Two relays may send the same row (the after-commit
relay and the beat); every pipeline task is idempotent, so the copy does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from engine.db.models import utcnow
from engine.pipeline.task_queue import TaskQueue
from engine.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

# The beat leaves fresh rows to the after-commit relay of the process that wrote them.
BEAT_MIN_AGE = timedelta(seconds=5)


def relay(
    make_uow: Callable[[], UnitOfWork],
    queue: TaskQueue,
    *,
    ids: Sequence[int] | None = None,
    min_age: timedelta | None = None,
    limit: int = 500,
) -> int:
    """Send pending outbox rows (these ids, or all older than ``min_age``); returns how many
    were sent. A broker that refuses one message stops the round: the rest stay pending."""
    with make_uow() as uow:
        before = utcnow() - min_age if min_age is not None else None
        rows = [
            (row.id, row.task, list(row.args), row.queue)
            for row in uow.outbox.pending(ids=ids, created_before=before, limit=limit)
        ]
    if not rows:
        return 0
    sent: list[int] = []
    failure: tuple[int, str] | None = None
    for row_id, task, args, queue_name in rows:
        try:
            queue.send(task, args, queue_name)
        except Exception as exc:  # broker down or refusing: leave it for the beat
            log.warning("outbox %d (%s) not sent: %s; the beat relays it later", row_id, task, exc)
            failure = (row_id, f"{type(exc).__name__}: {exc}")
            break
        sent.append(row_id)
    with make_uow() as uow:
        uow.outbox.mark_sent(sent, utcnow())
        if failure is not None:
            uow.outbox.mark_failed(*failure)
        uow.commit()
    return len(sent)
