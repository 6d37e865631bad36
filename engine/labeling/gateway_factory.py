"""Build the Label Studio gateway from settings (None when Label Studio is not configured)."""

from __future__ import annotations

from typing import Any

from engine.labeling.label_studio_gateway import LabelStudioGateway, _call, _iterate
from engine.settings import Settings


class PublishingGateway(LabelStudioGateway):
    """The gateway plus the project lookup publishing needs to find a project it created but
    did not record (a crash or a lost response between the two)."""

    def projects_titled(self, title: str) -> list[tuple[int, str]]:
        """``(id, description)`` of every project whose title is exactly ``title``."""
        # Label Studio filters titles by "contains, any case"; the exact match is ours.
        pages: Any = _call("list projects", lambda: self._client.projects.list(title=title))
        return [
            (int(project.id), project.description or "")
            for project in _iterate("list projects", pages)
            if project.id is not None and project.title == title
        ]


def label_studio_gateway(settings: Settings) -> PublishingGateway | None:
    if not settings.label_studio_token:
        return None
    return PublishingGateway(settings.label_studio_url, settings.label_studio_token)
