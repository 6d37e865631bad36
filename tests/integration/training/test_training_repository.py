"""The training repository on both databases the engine runs on (a fresh PostgreSQL database:
training items are global, so no other suite's items may be in it): the whole path through the
real SQL, and two sends of one form at the same moment counting once. One database per
engine for the module; the first test starts from an empty one."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.domain.job_stage import JobKind
from engine.domain.training_path import TrainingRules, TrainingSet, TrainingStage
from engine.training import service
from engine.training.gate import TrainingRequired, training_gate
from engine.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import PG_ADMIN_URL, _admin_exec

RULES = TrainingRules(practice_min_items=1, qualify_min_score=0.8)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sessions(request, tmp_path_factory) -> Iterator[sessionmaker[Session]]:  # type: ignore[no-untyped-def]
    from engine.db.migrate import upgrade_database
    from engine.db.session import get_engine, get_sessionmaker

    name = ""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('training') / 'training.sqlite3'}"
    else:
        name = f"kazi_training_{uuid.uuid4().hex[:10]}"
        _admin_exec(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade_database(url)
        yield get_sessionmaker(url)
        get_engine(url).dispose()
    finally:
        if name:
            _admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(sessions: sessionmaker[Session], use_case: Any, *args: Any) -> Any:
    with SqlAlchemyUnitOfWork(sessions) as uow:
        result = use_case(uow, *args)
        uow.commit()
        return result


def _worker(sessions: sessionmaker[Session]) -> str:
    from engine.workforce.service import register_worker

    return str(_run(sessions, register_worker, f"w-{uuid.uuid4().hex[:8]}").id)


def _item(set_name: TrainingSet, text: str) -> service.NewTrainingItem:
    return service.NewTrainingItem(
        JobKind.TRANSCRIPTION,
        set_name,
        f"training/{text}.wav",
        f"training/{text}.opus",
        f"{text}.wav",
        {"text": text},
    )


def test_the_path_through_the_real_sql(sessions: sessionmaker[Session]) -> None:
    practice = _run(sessions, service.add_item, _item(TrainingSet.PRACTICE, "moja"))
    worker = _worker(sessions)
    assert _run(sessions, service.enrol_new_trainee, worker) is None  # no qualification set
    q1 = _run(sessions, service.add_item, _item(TrainingSet.QUALIFICATION, "mbili tatu"))
    q2 = _run(sessions, service.add_item, _item(TrainingSet.QUALIFICATION, "nne"))
    assert (q1.position, q2.position, practice.position) == (1, 2, 1)
    assert _run(sessions, service.enrol_new_trainee, worker) is TrainingStage.NOT_STARTED
    with pytest.raises(TrainingRequired), SqlAlchemyUnitOfWork(sessions) as uow:
        training_gate(uow, worker)

    fb = _run(sessions, service.answer_item, worker, practice.id, "cid-practice-1",
              {"text": "moja"}, RULES)  # fmt: skip
    assert fb.feedback.score == 1.0 and fb.progress.stage is TrainingStage.QUALIFYING
    _run(sessions, service.answer_item, worker, q1.id, "cid-qual-1", {"text": "mbili"}, RULES)
    end = _run(sessions, service.answer_item, worker, q2.id, "cid-qual-2", {"text": "tano"}, RULES)
    assert end.round_result is not None and not end.round_result.passed
    assert end.round_result.mean_score == pytest.approx(0.25)
    summary = _run(sessions, service.training_summary, worker, RULES)
    assert (summary.stage, summary.failed_rounds, summary.practice_done) == (
        TrainingStage.PRACTICE, 1, 0,
    )  # fmt: skip
    last = _run(sessions, service.last_round_result, worker, RULES)
    assert [f.item_id for f in last.to_improve] == [q1.id, q2.id]
    # Round 2 after practice again: a pass opens paid work.
    _run(sessions, service.answer_item, worker, practice.id, "cid-practice-2",
         {"text": "moja"}, RULES)  # fmt: skip
    _run(sessions, service.answer_item, worker, q1.id, "cid-qual-3", {"text": "mbili tatu"}, RULES)
    won = _run(sessions, service.answer_item, worker, q2.id, "cid-qual-4", {"text": "nne"}, RULES)
    assert won.round_result.passed and won.round_result.round == 2
    with SqlAlchemyUnitOfWork(sessions) as uow:
        training_gate(uow, worker)
        assert uow.training.stage_of(worker) is TrainingStage.QUALIFIED
        assert uow.training.practice_answer_counts(worker) == {practice.id: 2}
        assert len(uow.training.round_attempts(worker, 1)) == 2


def test_two_sends_of_one_form_at_once_count_once(sessions: sessionmaker[Session]) -> None:
    _run(sessions, service.add_item, _item(TrainingSet.PRACTICE, "sawa"))
    _run(sessions, service.add_item, _item(TrainingSet.QUALIFICATION, "hapana"))
    worker = _worker(sessions)
    _run(sessions, service.require_training, worker)
    item = _run(sessions, service.next_item, worker, RULES)
    assert item is not None
    outcomes: list[Any] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            outcomes.append(_run(sessions, service.answer_item, worker, item.item_id,
                                 "cid-same-form", {"text": "sawa"}, RULES))  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(o.replayed for o in outcomes) == [False, True]
    with SqlAlchemyUnitOfWork(sessions) as uow:
        assert uow.training.practice_answer_counts(worker) == {item.item_id: 1}
        progress = uow.training.progress(worker)
        assert progress is not None and progress.practice_done == 1
