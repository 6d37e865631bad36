"""ASR pre-draft adapter: faster-whisper drafts of audio segments (see ``whisper_drafter``)."""

from engine.asr.asr_settings import AsrSettings
from engine.asr.whisper_drafter import (
    AsrModelError,
    SegmentAudio,
    WhisperDrafter,
    check_model,
    get_drafter,
)

__all__ = [
    "AsrModelError",
    "AsrSettings",
    "SegmentAudio",
    "WhisperDrafter",
    "check_model",
    "get_drafter",
]
