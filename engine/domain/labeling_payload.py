"""What the engine sends to and reads from Label Studio, as plain dicts (pure).

Label Studio tasks carry ``data`` (media URL, the marked-up draft, the engine's task id) and
optionally ``predictions`` (the draft, pre-filling the transcription box). Workers' annotations
come back as a ``result`` list of control values; ``answer_from_annotation`` turns that into
the engine's answer payload and ``annotation_result_from_answer`` goes the other way (review
predictions, simulated workers).

The control and object names below must match ``configs/labeling/*.xml``.
Boxes: Label Studio stores rectangles as percentages of the displayed image (with the image's
``original_width``/``original_height``); the engine keeps pixels of the task image.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from engine.domain.draft import DraftWord, join_words
from engine.domain.job_stage import JobKind

# Names in configs/labeling/*.xml.
TRANSCRIPTION_FROM, AUDIO_TO = "transcription", "audio"
CHOICE_FROM, BOXES_FROM, IMAGE_TO = "label", "boxes", "image"
DRAFT_HTML_KEY = "draft_html"
KAZI_TASK_ID_KEY = "kazi_task_id"

NO_DRAFT_HTML = "<em>(no machine draft: type what you hear)</em>"
# Two decimals of a pixel: far below what a worker can draw, and percentages -> pixels -> %
# round trips stay exact.
PIXEL_DECIMALS = 2


class LabelingPayloadError(ValueError):
    """A Label Studio payload the engine cannot use; the message says what is wrong."""


def _kind(kind: JobKind | str) -> JobKind:
    try:
        return JobKind(kind)
    except ValueError:
        known = [k.value for k in JobKind]
        raise LabelingPayloadError(f"unknown task kind {kind!r}; expected one of {known}") from None


# --- engine -> Label Studio -------------------------------------------------------------------


def draft_html(
    draft_text: str | None, draft_words: Sequence[Mapping[str, Any] | DraftWord] | None
) -> str:
    """The draft as HTML with low-confidence words in ``<mark>``; all text is escaped.

    Words (dicts with ``word`` and ``low_confidence``, or ``DraftWord``) win over the plain
    text, which is only shown (unmarked) when there are no words.
    """
    if draft_words:
        pieces: list[str] = []
        for item in draft_words:
            word, flagged = _word_and_flag(item)
            word = word.strip()
            if not word:
                continue
            escaped = html.escape(word, quote=True)
            marked = f"<mark>{escaped}</mark>" if flagged else escaped
            # Same spacing rule as join_words: a split-off "-suffix" sticks to its word.
            pieces.append(marked if not pieces or word.startswith("-") else " " + marked)
        if pieces:
            return "".join(pieces)
    if draft_text and draft_text.strip():
        return html.escape(draft_text.strip(), quote=True)
    return NO_DRAFT_HTML


def _word_and_flag(item: Mapping[str, Any] | DraftWord) -> tuple[str, bool]:
    if isinstance(item, DraftWord):
        return item.word, item.low_confidence
    try:
        word = item["word"]
    except (KeyError, TypeError):
        raise LabelingPayloadError(f"draft word needs a 'word' key: {item!r}") from None
    if not isinstance(word, str):
        raise LabelingPayloadError(f"draft word must be a string: {item!r}")
    return word, bool(item.get("low_confidence", False))


def task_data(
    kind: JobKind | str,
    media_url: str,
    draft_text: str | None,
    draft_words: Sequence[Mapping[str, Any] | DraftWord] | None,
    kazi_task_id: str,
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Label Studio task ``data`` for one engine task.

    Transcription: ``audio``, ``draft_html`` (always present: the config references it) and
    ``draft_text``; images: ``image``. ``kazi_task_id`` maps LS tasks back to the engine's.
    ``extra`` keys (e.g. job id, replica) are added but may not overwrite these.
    """
    job_kind = _kind(kind)
    if not media_url:
        raise LabelingPayloadError("media_url is empty")
    if not kazi_task_id:
        raise LabelingPayloadError("kazi_task_id is empty")
    data: dict[str, Any]
    if job_kind is JobKind.TRANSCRIPTION:
        words_text = join_words(_word_and_flag(w)[0] for w in draft_words or ())
        data = {
            AUDIO_TO: media_url,
            DRAFT_HTML_KEY: draft_html(draft_text, draft_words),
            "draft_text": (draft_text or words_text or "").strip(),
        }
    else:
        data = {IMAGE_TO: media_url}
    data[KAZI_TASK_ID_KEY] = str(kazi_task_id)
    for key, value in (extra or {}).items():
        if key in data:
            raise LabelingPayloadError(f"extra key {key!r} would overwrite task data")
        data[key] = value
    return data


def draft_prediction(text: str, model_version: str, score: float | None = None) -> dict[str, Any]:
    """A Label Studio prediction that pre-fills the transcription box with ``text``."""
    if not text or not text.strip():
        raise LabelingPayloadError("a draft prediction needs non-blank text (send none instead)")
    prediction: dict[str, Any] = {
        "model_version": model_version,
        "result": annotation_result_from_answer(JobKind.TRANSCRIPTION, {"text": text.strip()}),
    }
    if score is not None:
        if not math.isfinite(score):
            raise LabelingPayloadError(f"prediction score must be finite, got {score}")
        prediction["score"] = float(score)
    return prediction


def ls_task(data: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]] = ()) -> dict:
    """One item of a Label Studio import: ``{"data": ..., "predictions": [...]}``."""
    task: dict[str, Any] = {"data": dict(data)}
    if predictions:
        task["predictions"] = [dict(p) for p in predictions]
    return task


def annotation_result_from_answer(
    kind: JobKind | str,
    answer: Mapping[str, Any],
    image_size: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """The Label Studio ``result`` list that shows ``answer`` (inverse of the function below).

    Boxes need ``image_size`` (width, height of the task image in pixels).
    """
    job_kind = _kind(kind)
    if job_kind is JobKind.TRANSCRIPTION:
        text = answer.get("text")
        if not isinstance(text, str):
            raise LabelingPayloadError(f"transcription answer needs 'text' (str): {answer!r}")
        return [
            {
                "from_name": TRANSCRIPTION_FROM,
                "to_name": AUDIO_TO,
                "type": "textarea",
                "value": {"text": [text]},
            }
        ]
    if job_kind is JobKind.IMAGE_CLASSIFICATION:
        label = answer.get("label")
        if not isinstance(label, str) or not label:
            raise LabelingPayloadError(f"classification answer needs 'label' (str): {answer!r}")
        return [
            {
                "from_name": CHOICE_FROM,
                "to_name": IMAGE_TO,
                "type": "choices",
                "value": {"choices": [label]},
            }
        ]
    width, height = _image_size(image_size)
    boxes = answer.get("boxes")
    if not isinstance(boxes, list):
        raise LabelingPayloadError(f"boxes answer needs 'boxes' (a list): {answer!r}")
    result = []
    for i, box in enumerate(boxes):
        label, x, y, w, h = _box_fields(box, i)
        result.append(
            {
                # Label Studio keys regions by id; any string unique within the result works.
                "id": f"kazi{i}",
                "from_name": BOXES_FROM,
                "to_name": IMAGE_TO,
                "type": "rectanglelabels",
                "original_width": width,
                "original_height": height,
                "image_rotation": 0,
                "value": {
                    "x": 100.0 * x / width,
                    "y": 100.0 * y / height,
                    "width": 100.0 * w / width,
                    "height": 100.0 * h / height,
                    "rotation": 0,
                    "rectanglelabels": [label],
                },
            }
        )
    return result


# --- Label Studio -> engine -------------------------------------------------------------------


def answer_from_annotation(
    kind: JobKind | str,
    result: Sequence[Mapping[str, Any]],
    image_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The engine's answer for a Label Studio annotation ``result``.

    transcription ``{"text": str}`` (all TextArea lines joined by a space, stripped);
    image_classification ``{"label": str}``; image_boxes ``{"boxes": [{label, x, y, w, h}]}`` in
    pixels of the task image: ``image_size`` when given, else the size Label Studio recorded.
    An empty boxes result is an answer ("nothing to box"); for the other kinds it is an error.
    """
    job_kind = _kind(kind)
    if not isinstance(result, Sequence) or isinstance(result, str | bytes):
        raise LabelingPayloadError(f"annotation result must be a list, got {type(result).__name__}")
    if job_kind is JobKind.IMAGE_BOXES:
        return {
            "boxes": [_box_from_region(r, image_size) for r in _of_type(result, "rectanglelabels")]
        }
    if not result:
        raise LabelingPayloadError(f"empty annotation result for a {job_kind.value} task")
    if job_kind is JobKind.TRANSCRIPTION:
        areas = _of_type(result, "textarea")
        if not areas:
            raise LabelingPayloadError(f"no textarea value in the result: {_types(result)}")
        lines: list[str] = []
        for region in areas:
            text = _value(region).get("text", [])
            if isinstance(text, str):
                text = [text]
            if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
                raise LabelingPayloadError(f"textarea text must be a list of strings: {region!r}")
            lines.extend(text)
        return {"text": " ".join(line.strip() for line in lines if line.strip())}
    choices = [c for r in _of_type(result, "choices") for c in _value(r).get("choices", [])]
    if len(choices) != 1 or not isinstance(choices[0], str):
        raise LabelingPayloadError(
            f"expected exactly one choice, got {choices!r} in {_types(result)}"
        )
    return {"label": choices[0]}


def _of_type(result: Sequence[Mapping[str, Any]], type_: str) -> list[Mapping[str, Any]]:
    out = []
    for region in result:
        if not isinstance(region, Mapping):
            raise LabelingPayloadError(f"result items must be objects, got {region!r}")
        if region.get("type") == type_:
            out.append(region)
    return out


def _types(result: Sequence[Mapping[str, Any]]) -> list[Any]:
    return [r.get("type") for r in result if isinstance(r, Mapping)]


def _value(region: Mapping[str, Any]) -> Mapping[str, Any]:
    value = region.get("value")
    if not isinstance(value, Mapping):
        raise LabelingPayloadError(f"result item has no 'value' object: {region!r}")
    return value


def _image_size(image_size: tuple[int, int] | None) -> tuple[int, int]:
    if image_size is None:
        raise LabelingPayloadError("boxes need the task image size (width, height)")
    width, height = image_size
    if not (width > 0 and height > 0):
        raise LabelingPayloadError(f"image size must be positive, got {image_size!r}")
    return int(width), int(height)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LabelingPayloadError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _box_fields(box: Any, i: int) -> tuple[str, float, float, float, float]:
    if not isinstance(box, Mapping):
        raise LabelingPayloadError(f"box {i} must be an object with label, x, y, w, h")
    label = box.get("label")
    if not isinstance(label, str) or not label:
        raise LabelingPayloadError(f"box {i} needs a 'label' (str): {box!r}")
    x, y, w, h = (_number(box.get(k), f"box {i} {k}") for k in ("x", "y", "w", "h"))
    if w < 0 or h < 0:
        raise LabelingPayloadError(f"box {i} has a negative size: {box!r}")
    return label, x, y, w, h


def _box_from_region(
    region: Mapping[str, Any], image_size: tuple[int, int] | None
) -> dict[str, Any]:
    value = _value(region)
    labels = value.get("rectanglelabels")
    if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
        raise LabelingPayloadError(f"a box needs exactly one label, got {labels!r}")
    if image_size is None:
        recorded = (region.get("original_width"), region.get("original_height"))
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in recorded):
            raise LabelingPayloadError(
                "boxes need the image size and the result does not record it"
            )
        image_size = (int(recorded[0]), int(recorded[1]))  # type: ignore[arg-type]
    width, height = _image_size(image_size)
    # Percentages of the image -> pixels.
    x = _number(value.get("x"), "box x") * width / 100.0
    y = _number(value.get("y"), "box y") * height / 100.0
    w = _number(value.get("width"), "box width") * width / 100.0
    h = _number(value.get("height"), "box height") * height / 100.0
    if w < 0 or h < 0:
        raise LabelingPayloadError(f"box has a negative size: {value!r}")
    rotation = _number(value.get("rotation", 0) or 0, "box rotation")
    x1, y1, x2, y2 = _rotated_extent(x, y, w, h, rotation)
    # Inside the image: a box dragged past the edge means "up to the edge".
    x1, x2 = (min(max(v, 0.0), width) for v in (x1, x2))
    y1, y2 = (min(max(v, 0.0), height) for v in (y1, y2))
    x1, y1, x2, y2 = (round(v, PIXEL_DECIMALS) for v in (x1, y1, x2, y2))
    return {
        "label": labels[0],
        "x": x1,
        "y": y1,
        "w": round(x2 - x1, PIXEL_DECIMALS),
        "h": round(y2 - y1, PIXEL_DECIMALS),
    }


def _rotated_extent(
    x: float, y: float, w: float, h: float, degrees: float
) -> tuple[float, float, float, float]:
    """Axis-aligned extent of a rectangle rotated clockwise about its top-left corner (LS's
    convention; the configs forbid rotation, but older or imported results may carry it)."""
    if degrees % 360 == 0:
        return x, y, x + w, y + h
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    xs, ys = [], []
    for dx, dy in ((0.0, 0.0), (w, 0.0), (w, h), (0.0, h)):
        xs.append(x + dx * cos - dy * sin)
        ys.append(y + dx * sin + dy * cos)
    return min(xs), min(ys), max(xs), max(ys)
