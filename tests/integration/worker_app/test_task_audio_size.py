"""The light editor's audio: the small Ogg/Opus copy made at split time is sized for slow mobile
data, 8-16 kb/s of speech, container included (a real speech clip through the real encoder)."""

from __future__ import annotations

from pathlib import Path

from engine.media.audio import encode_segment
from tests.conftest import SPEECH
from tests.media_samples import decode_mono


def test_the_small_opus_copy_of_speech_is_8_to_16_kbps(tmp_path: Path) -> None:
    samples = decode_mono(SPEECH / "jfk.flac")
    seconds = len(samples) / 16_000
    # The splitter's own call (engine/splitting/audio_splitter.py) for a whole-clip segment.
    small = encode_segment(samples, 16_000, 0.0, seconds, tmp_path / "seg.opus", "opus")
    kbps = small.stat().st_size * 8 / seconds / 1000
    assert 8.0 <= kbps <= 16.0, kbps
