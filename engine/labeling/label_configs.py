"""Label Studio labeling configs per task kind, rendered from ``configs/labeling/*.xml``.

Each template has one ``<!-- kazi:labels ... -->`` line that becomes one ``<Choice>`` or
``<Label>`` per job label. The tag and control names in the templates are the contract with
``engine.domain.labeling_payload`` (``transcription``/``audio``, ``label``/``image``,
``boxes``/``image``); change them together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from xml.sax.saxutils import quoteattr

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "labeling"

# kind -> the child tag each label becomes (None: the kind takes no labels).
LABEL_TAG: dict[str, str | None] = {
    "transcription": None,
    "image_classification": "Choice",
    "image_boxes": "Label",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)<!--\s*kazi:labels\b.*?-->[ \t]*$", re.MULTILINE)


class LabelConfigError(ValueError):
    """Unknown kind, or labels that do not suit it."""


@cache
def _template(kind: str) -> str:
    return (CONFIG_DIR / f"{kind}.xml").read_text(encoding="utf-8")


def render_label_config(kind: str, labels: Sequence[str] = ()) -> str:
    """The labeling config XML for ``kind`` with one option per label, in the given order.

    Classification and boxes need at least one label; duplicates and blank labels are refused
    because Label Studio would show two identical buttons (or an empty one).
    """
    if kind not in LABEL_TAG:
        raise LabelConfigError(f"unknown task kind {kind!r}; expected one of {sorted(LABEL_TAG)}")
    tag = LABEL_TAG[kind]
    template = _template(kind)
    if tag is None:
        return template
    cleaned = [label.strip() for label in labels]
    if not cleaned:
        raise LabelConfigError(f"{kind} needs at least one label")
    if any(not label for label in cleaned):
        raise LabelConfigError(f"{kind} labels must not be blank: {list(labels)!r}")
    if len(set(cleaned)) != len(cleaned):
        raise LabelConfigError(f"{kind} labels must be distinct: {list(labels)!r}")

    match = _PLACEHOLDER.search(template)
    if match is None:
        raise LabelConfigError(f"{CONFIG_DIR / (kind + '.xml')} has no kazi:labels placeholder")
    indent = match.group("indent")
    options = "\n".join(f"{indent}<{tag} value={quoteattr(label)}/>" for label in cleaned)
    return template[: match.start()] + options + template[match.end() :]
