"""The PyAV audio adapter on real speech: formats in, segment files out, bad files rejected."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest

from engine.media.audio import (
    SegmentFormat,
    decode_audio,
    encode_segment,
    iter_audio_chunks,
    load_audio,
    probe_audio,
)
from engine.media.errors import MediaError

SPEECH = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "speech"
LIBRI = SPEECH / "librispeech" / "1089-134686-0000.flac"  # 10.435 s, 16 kHz mono, 16-bit
JFK = SPEECH / "jfk.flac"  # 11.0 s, 44.1 kHz stereo, 24-bit

# extension -> (codec, encoder sample format, sample rate, extra codec settings)
FORMATS = {
    "wav": ("pcm_s16le", "s16", 16_000, {}),
    "flac": ("flac", "s16", 16_000, {}),
    "mp3": ("libmp3lame", "s16p", 16_000, {"bit_rate": 64_000}),
    "ogg": ("libopus", "flt", 48_000, {"bit_rate": 32_000}),
    "opus": ("libopus", "flt", 48_000, {"bit_rate": 32_000}),
    "m4a": ("aac", "fltp", 16_000, {"bit_rate": 64_000}),
}


def write_with_pyav(source: Path, out: Path, layout: str = "mono") -> None:
    """Re-encode ``source`` into ``out``'s format (chosen by its extension)."""
    codec, sample_format, rate, settings = FORMATS[out.suffix[1:]]
    container_format = "ogg" if out.suffix == ".opus" else None
    with av.open(str(source)) as src, av.open(str(out), "w", format=container_format) as dst:
        stream = dst.add_stream(codec, rate=rate)
        assert isinstance(stream, av.AudioStream)
        stream.layout = layout
        stream.format = sample_format
        for name, value in settings.items():
            setattr(stream, name, value)
        resampler = av.AudioResampler(format=sample_format, layout=layout, rate=rate)
        for frame in src.decode(audio=0):
            for out_frame in resampler.resample(frame):
                for packet in stream.encode(out_frame):
                    dst.mux(packet)
        for out_frame in resampler.resample(None):
            for packet in stream.encode(out_frame):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    files = {}
    for ext in FORMATS:
        files[ext] = folder / f"libri.{ext}"
        write_with_pyav(LIBRI, files[ext])
    files["m4a-stereo"] = folder / "jfk.m4a"
    write_with_pyav(JFK, files["m4a-stereo"], layout="stereo")
    return files


@pytest.mark.parametrize("ext", list(FORMATS))
def test_probe_and_decode_supported_formats(encoded: dict[str, Path], ext: str) -> None:
    info = probe_audio(encoded[ext])
    # AAC keeps its encoder priming/padding, so it may decode a little longer.
    assert info.duration_seconds == pytest.approx(10.435, abs=0.15)
    assert info.sample_rate == FORMATS[ext][2]
    assert info.channels == 1
    samples = decode_audio(encoded[ext])
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) == pytest.approx(info.duration_seconds * 16_000, abs=16)
    assert 0.01 < float(np.sqrt(np.mean(samples**2))) < 0.5  # real speech, not silence


def test_probe_reports_source_properties(encoded: dict[str, Path]) -> None:
    info = probe_audio(JFK)
    assert (info.sample_rate, info.channels, info.codec, info.container) == (
        44_100,
        2,
        "flac",
        "flac",
    )
    assert info.duration_seconds == 11.0
    stereo = probe_audio(encoded["m4a-stereo"])
    assert stereo.channels == 2 and stereo.codec == "aac"


def test_decode_mixes_down_and_resamples() -> None:
    samples = decode_audio(JFK, sample_rate=16_000)
    assert samples.shape == (176_000,)
    decoded = load_audio(JFK, sample_rate=None)
    assert decoded.sample_rate == 44_100 and decoded.samples.shape == (485_100,)
    assert decoded.info.duration_seconds == 11.0


def test_stream_decoding_matches_whole_decoding() -> None:
    chunks = list(iter_audio_chunks(LIBRI))
    assert len(chunks) > 10  # streamed, not one buffer
    whole = load_audio(LIBRI, sample_rate=None).samples
    assert np.array_equal(np.concatenate(chunks), whole)


@pytest.mark.parametrize("fmt", ["flac", "opus"])
def test_segment_duration_matches_cut(tmp_path: Path, fmt: SegmentFormat) -> None:
    decoded = load_audio(JFK, sample_rate=None)
    for start, end in [(0.0, 3.3), (1.2345, 7.891), (10.2, 11.0), (5.0, 5.4)]:
        out = encode_segment(
            decoded.samples, decoded.sample_rate, start, end, tmp_path / f"s.{fmt}", fmt
        )
        info = probe_audio(out)
        assert info.duration_seconds == pytest.approx(end - start, abs=0.002)
        assert info.channels == 1
        assert info.sample_rate == (44_100 if fmt == "flac" else 48_000)


def test_flac_segment_is_lossless_for_16_bit_source(tmp_path: Path) -> None:
    decoded = load_audio(LIBRI, sample_rate=None)
    out = encode_segment(decoded.samples, 16_000, 2.5, 6.25, tmp_path / "s.flac", "flac")
    written = load_audio(out, sample_rate=None).samples
    assert np.array_equal(written, decoded.samples[40_000:100_000])


def test_opus_segment_is_small_and_sounds_like_the_source(tmp_path: Path) -> None:
    decoded = load_audio(LIBRI, sample_rate=None)
    out = encode_segment(decoded.samples, 16_000, 0.0, 10.0, tmp_path / "s.opus", "opus")
    kbit_per_second = out.stat().st_size * 8 / 1000 / 10.0
    assert 8 <= kbit_per_second <= 16  # the worker app's small copy: 8-16 kb/s speech
    back = decode_audio(out, sample_rate=16_000)
    source = decoded.samples[:160_000]
    assert len(back) == pytest.approx(len(source), abs=2)
    n = min(len(back), len(source))
    correlation = np.corrcoef(back[:n], source[:n])[0, 1]
    assert correlation > 0.8  # aligned in time and close in shape


def test_encode_from_a_window_of_the_recording(tmp_path: Path) -> None:
    decoded = load_audio(LIBRI, sample_rate=None)
    window = decoded.samples[32_000:]  # the recording from 2.0 s on
    out = encode_segment(
        window, 16_000, 3.0, 4.0, tmp_path / "w.flac", "flac", samples_offset=32_000
    )
    assert np.array_equal(load_audio(out, sample_rate=None).samples, decoded.samples[48_000:64_000])
    with pytest.raises(ValueError, match="outside"):
        encode_segment(window, 16_000, 1.0, 4.0, tmp_path / "x.flac", "flac", samples_offset=32_000)


def test_encoding_is_byte_identical_on_rerun(tmp_path: Path) -> None:
    decoded = load_audio(LIBRI, sample_rate=None)
    for fmt in ("flac", "opus"):
        a = encode_segment(decoded.samples, 16_000, 1.0, 5.0, tmp_path / f"a.{fmt}", fmt)
        b = encode_segment(decoded.samples, 16_000, 1.0, 5.0, tmp_path / f"b.{fmt}", fmt)
        assert a.read_bytes() == b.read_bytes()
    assert not list(tmp_path.glob(".*.part"))


# --- bad inputs -------------------------------------------------------------------------------


def _truncate(source: Path, out: Path) -> Path:
    data = source.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def _zero_length_wav(out: Path) -> Path:
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
    return out


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d, e: d / "empty.wav", "file is empty (0 bytes)"),
        (lambda d, e: d / "notes.wav", "file is not audio"),
        (lambda d, e: d / "noise.wav", "file is not audio"),
        (lambda d, e: _zero_length_wav(d / "zero.wav"), "audio has no samples (zero length)"),
        (lambda d, e: _truncate(LIBRI, d / "half.flac"), "audio file is truncated or corrupt"),
        (lambda d, e: _truncate(e["wav"], d / "half.wav"), "audio file is truncated or corrupt"),
        (lambda d, e: _truncate(e["mp3"], d / "half.mp3"), "audio file is truncated or corrupt"),
        (lambda d, e: _truncate(e["m4a"], d / "half.m4a"), "audio file is truncated or corrupt"),
        (lambda d, e: d / "missing.wav", "audio file not found"),
    ],
    ids=["empty", "text", "random", "zero-length", "flac", "wav", "mp3", "m4a", "missing"],
)
def test_bad_inputs_raise_media_error(
    tmp_path: Path, encoded: dict[str, Path], make, reason: str
) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.wav").write_text("Meeting notes\nnot a recording at all\n")
    (tmp_path / "noise.wav").write_bytes(np.random.default_rng(7).bytes(50_000))
    path = make(tmp_path, encoded)
    for reader in (probe_audio, decode_audio):
        with pytest.raises(MediaError) as caught:
            reader(path)
        assert caught.value.reason.startswith(reason)
        assert str(caught.value) == caught.value.reason
        assert str(tmp_path) not in caught.value.reason  # the client sees no server paths


def test_truncated_flac_reason_says_where(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"decoding failed after \d+\.\d\d s"):
        probe_audio(_truncate(LIBRI, tmp_path / "half.flac"))


def test_truncated_wav_reason_gives_lengths(tmp_path: Path, encoded: dict[str, Path]) -> None:
    with pytest.raises(MediaError, match=r"holds 5\.2\d s of audio but its header says 10\.4\d s"):
        probe_audio(_truncate(encoded["wav"], tmp_path / "half.wav"))


def test_audio_without_audio_stream(tmp_path: Path) -> None:
    path = tmp_path / "picture.wav"
    with av.open(str(path), "w", format="mjpeg") as out:
        stream = out.add_stream("mjpeg", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuvj420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame.reformat(format="yuvj420p")), *stream.encode(None)]:
            out.mux(packet)
    with pytest.raises(MediaError, match="file is not audio"):
        probe_audio(path)
