"""The free-slot rules' SQL form (what PostgreSQL selects, the worker API's one-statement claim
included) agrees with their Python form, over every combination of the facts they read."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select

from engine.db.models import (
    AnswerRow,
    AssignmentRow,
    ClientRow,
    JobRow,
    SourceMediaRow,
    TaskRow,
    WorkerRow,
)
from engine.domain.job_stage import JobStage
from engine.domain.lease_rules import (
    ANSWER_LEASE,
    NOW,
    REVIEW_LEASE,
    SLOT_IS_FREE,
    UNANSWERED_ANSWER_SLOT,
    Candidate,
    LeaseRule,
    SlotView,
    may_lease,
    slot_facts,
)
from engine.domain.predicate import holds
from engine.domain.work_states import SlotPurpose, SlotState
from engine.work.slot_sql import candidate_condition, slot_condition


@dataclass(frozen=True)
class Case:
    state: SlotState
    expires: str  # none | past | future
    purpose: SlotPurpose
    replica: int | None
    stage: JobStage
    answered: bool
    holding: str  # the worker's other slot on the task: none | future (live) | past


CASES = [
    Case(*combo)
    for combo in itertools.product(
        SlotState,
        ("none", "past", "future"),
        SlotPurpose,
        (0, None),
        (JobStage.LABELING, JobStage.REVIEWING, JobStage.SCORING),
        (False, True),
        ("none", "future", "past"),
    )
]


def _worker(session, tag: str) -> str:  # type: ignore[no-untyped-def]
    worker = WorkerRow(id=str(uuid.uuid4()), handle=f"{tag}-{uuid.uuid4().hex[:8]}",
                       key_prefix=uuid.uuid4().hex[:16], key_hash="x")  # fmt: skip
    session.add(worker)
    return worker.id


def test_python_and_sql_forms_of_the_free_slot_rules_agree(ctx):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    times = {"none": None, "past": now - timedelta(hours=1), "future": now + timedelta(hours=1)}
    with ctx.uow() as uow:  # never committed: everything rolls back at the end
        session = uow.session
        client = ClientRow(id=str(uuid.uuid4()), name=f"rules-{uuid.uuid4().hex[:8]}")
        session.add(client)
        session.flush()
        me, other = _worker(session, "me"), _worker(session, "other")
        jobs = {}
        for stage in (JobStage.LABELING, JobStage.REVIEWING, JobStage.SCORING):
            job = JobRow(id=str(uuid.uuid4()), client_id=client.id, kind="image_classification",
                         spec={"kind": "image_classification", "labels": ["a", "b"]},
                         stage=stage.value)  # fmt: skip
            session.add(job)
            session.flush()
            session.add(SourceMediaRow(id=job.id, job_id=job.id, seq=0, filename="x.png",
                                       object_key="k", sha256=job.id, size_bytes=1,
                                       media_type="image", content_type="image/png"))  # fmt: skip
            jobs[stage] = job.id
        session.flush()
        slot_case: dict[int, Case] = {}
        for seq, case in enumerate(CASES):
            job_id = jobs[case.stage]
            task = TaskRow(id=str(uuid.uuid4()), job_id=job_id, source_id=job_id, seq=seq,
                           kind="image", object_key="k")  # fmt: skip
            session.add(task)
            session.flush()  # no ORM relationships: rows go in in the order flushed
            leased = case.state is not SlotState.OPEN
            slot = AssignmentRow(
                task_id=task.id, job_id=job_id, replica=case.replica, purpose=case.purpose.value,
                state=case.state.value, worker_id=other if leased else None,
                lease_id=str(uuid.uuid4()) if leased else None, expires_at=times[case.expires],
            )  # fmt: skip
            session.add(slot)
            if case.answered:
                session.add(AnswerRow(task_id=task.id, job_id=job_id, worker_id=me,
                                      source="api", payload={"label": "a"}))  # fmt: skip
            if case.holding != "none":
                session.add(AssignmentRow(
                    task_id=task.id, job_id=job_id, replica=7, state=SlotState.LEASED.value,
                    worker_id=me, lease_id=str(uuid.uuid4()), expires_at=times[case.holding],
                ))  # fmt: skip
            session.flush()
            slot_case[slot.id] = case

        def python_says(rule: LeaseRule) -> set[int]:
            return {
                slot_id for slot_id, c in slot_case.items()
                if may_lease(rule, Candidate(SlotView(c.state, None, times[c.expires], c.purpose,
                                                      c.replica), c.stage, c.answered,
                                             c.holding == "future"), now)
            }  # fmt: skip

        def sql_says(condition) -> set[int]:  # type: ignore[no-untyped-def]
            stmt = (
                select(AssignmentRow.id)
                .join(JobRow, JobRow.id == AssignmentRow.job_id)
                .where(AssignmentRow.id.in_(list(slot_case)), condition)
            )
            return set(session.scalars(stmt, {"me": me, "now": now}))

        for rule in (ANSWER_LEASE, REVIEW_LEASE):
            expected = python_says(rule)
            assert expected, rule  # the cases reach the rule's free slots at all
            me_param, now_param = bindparam("me"), bindparam("now")
            assert sql_says(candidate_condition(rule.free, me_param, now_param)) == expected

        for own_rule in (SLOT_IS_FREE, UNANSWERED_ANSWER_SLOT):
            expected = {
                slot_id for slot_id, c in slot_case.items()
                if holds(own_rule, slot_facts(SlotView(c.state, None, times[c.expires], c.purpose,
                                                       c.replica)), {NOW.name: now})
            }  # fmt: skip
            assert sql_says(slot_condition(own_rule, bindparam("now"))) == expected

        # The worker API's prebuilt claim takes exactly the slots the Python form allows (and
        # then some of the worker's own ran-out holding slots, which are not cases).
        claimed = set()
        while (got := uow.work.claim_next_free_slot(
            me, str(uuid.uuid4()), "api", now, now + timedelta(minutes=15),
            jobs[JobStage.LABELING],
        )) is not None:  # fmt: skip
            claimed.add(got.slot_id)
            assert len(claimed) <= len(slot_case)
        assert claimed & set(slot_case) == python_says(ANSWER_LEASE)
