"""What a valid answer looks like for each job kind (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine.domain.job_stage import JobKind

MAX_TEXT_CHARS = 20_000
MAX_BOXES = 500


class AnswerError(ValueError):
    """The answer does not fit the task; the message says what to fix."""


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AnswerError(f"box {name} must be a finite number")
    try:
        number = float(value)
    except OverflowError:  # a JSON int beyond float range, e.g. 400 digits
        raise AnswerError(f"box {name} must be a finite number") from None
    if not math.isfinite(number):
        raise AnswerError(f"box {name} must be a finite number")
    return number


def normalize_answer(
    kind: JobKind,
    labels: Sequence[str],
    answer: Any,
    media_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Check an answer and return it in canonical form.

    transcription ``{"text": str}``; image_classification ``{"label": one of labels}``;
    image_boxes ``{"boxes": [{"label", "x", "y", "w", "h"}]}`` in the task image's pixels
    (clamped to it when ``media_size`` is known; an empty list means "nothing to box").
    """
    if not isinstance(answer, dict):
        raise AnswerError("answer must be a JSON object")
    if kind is JobKind.TRANSCRIPTION:
        text = answer.get("text")
        if not isinstance(text, str):
            raise AnswerError("a transcription answer needs 'text' (a string; empty for silence)")
        if len(text) > MAX_TEXT_CHARS:
            raise AnswerError(f"text is longer than {MAX_TEXT_CHARS} characters")
        return {"text": " ".join(text.split())}
    if kind is JobKind.IMAGE_CLASSIFICATION:
        label = answer.get("label")
        if label not in labels:
            raise AnswerError(f"'label' must be one of {list(labels)}, got {label!r}")
        return {"label": label}
    boxes = answer.get("boxes")
    if not isinstance(boxes, list):
        raise AnswerError("a boxes answer needs 'boxes' (a list, empty when there is nothing)")
    if len(boxes) > MAX_BOXES:
        raise AnswerError(f"at most {MAX_BOXES} boxes per task")
    out = []
    for i, box in enumerate(boxes):
        if not isinstance(box, dict):
            raise AnswerError(f"box {i} must be an object with label, x, y, w, h")
        if box.get("label") not in labels:
            raise AnswerError(f"box {i}: label must be one of {list(labels)}")
        x, y = _number(box.get("x"), "x"), _number(box.get("y"), "y")
        w, h = _number(box.get("w"), "w"), _number(box.get("h"), "h")
        if w <= 0 or h <= 0:
            raise AnswerError(f"box {i}: w and h must be positive")
        if media_size is not None:
            width, height = media_size
            x0, y0 = max(0.0, x), max(0.0, y)
            x1, y1 = min(float(width), x + w), min(float(height), y + h)
            if x1 <= x0 or y1 <= y0:
                raise AnswerError(f"box {i} lies outside the {width}x{height} image")
            x, y, w, h = x0, y0, x1 - x0, y1 - y0
        out.append({"label": box["label"], "x": x, "y": y, "w": w, "h": h})
    return {"boxes": out}
