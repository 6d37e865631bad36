"""Which results a QA reviewer checks (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping


def select_for_review(
    agreements: Mapping[str, float],
    threshold: float,
    sample_rate: float,
    draw: Callable[[], float],
) -> dict[str, str]:
    """Task -> why it goes to review: agreement under ``threshold``, or the random sample of
    the rest (so reviewers also check results that look fine)."""
    chosen: dict[str, str] = {}
    for task, agreement in sorted(agreements.items()):
        if agreement < threshold:
            chosen[task] = f"agreement {agreement:.2f} under {threshold:.2f}"
        elif draw() < sample_rate:
            chosen[task] = "random quality sample"
    return chosen
