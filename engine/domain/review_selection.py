"""Which results a QA reviewer checks (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping


def sample_draw(task_id: str, salt: str = "") -> float:
    """A uniform draw in [0, 1) fixed by the task id, so scoring a job again picks the same
    random sample (the choice is still unpredictable to workers)."""
    digest = hashlib.sha256(f"{salt}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def select_for_review(
    agreements: Mapping[str, float],
    threshold: float,
    sample_rate: float,
    draw: Callable[[str], float] = sample_draw,
) -> dict[str, str]:
    """Task -> why it goes to review: agreement under ``threshold``, or the random sample of
    the rest (so reviewers also check results that look fine)."""
    chosen: dict[str, str] = {}
    for task, agreement in sorted(agreements.items()):
        if agreement < threshold:
            chosen[task] = f"agreement {agreement:.2f} under {threshold:.2f}"
        elif draw(task) < sample_rate:
            chosen[task] = "random quality sample"
    return chosen
