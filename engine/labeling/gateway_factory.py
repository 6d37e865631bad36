"""Build the Label Studio gateway from settings (None when Label Studio is not configured)."""

from __future__ import annotations

from engine.labeling.label_studio_gateway import LabelStudioGateway
from engine.settings import Settings


def label_studio_gateway(settings: Settings) -> LabelStudioGateway | None:
    if not settings.label_studio_token:
        return None
    return LabelStudioGateway(settings.label_studio_url, settings.label_studio_token)
