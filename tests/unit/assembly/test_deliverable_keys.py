"""Deliverable names keep the client's file names; their storage keys stay valid and unique."""

from __future__ import annotations

import pytest

from engine.assembly.service import _DeliverableKeys
from engine.storage.object_keys import validate_key


@pytest.mark.parametrize(
    "name",
    ["yolo/street 0.txt", "gold/café menu.json", "labels.csv", "yolo/..hidden.txt", "a b/c d.png"],
)
def test_any_file_name_gets_a_valid_key(name: str) -> None:
    key = _DeliverableKeys("c1", "j1").key_for(name)
    assert validate_key(key) == key
    assert key.startswith("clients/c1/jobs/j1/deliverables/")


def test_names_that_clean_up_alike_get_distinct_keys() -> None:
    keys = _DeliverableKeys("c1", "j1")
    first, second, third = (
        keys.key_for(n) for n in ("yolo/a b.txt", "yolo/a_b.txt", "yolo/a?b.txt")
    )
    assert len({first, second, third}) == 3
    assert first.endswith("yolo/a_b.txt") and second.endswith("yolo/a_b-2.txt")
