"""Reader for CrowdSpeech (Pavlichenko et al., NeurIPS 2021): crowd answers, truth, baselines.

Crowd files are TSV with the header ``INPUT:audio``, ``OUTPUT:transcription``,
``ASSIGNMENT:worker_id``; some transcriptions are quoted and span lines, so they are parsed
with the csv module (tab delimiter), never line by line. Ground-truth files have no header:
``audio<TAB>text``. Baseline files have a header starting with ``audio`` and one column per
method (``rover_result``, ``t5_result``, ...).
"""

import csv
from pathlib import Path

from engine.datasets import DatasetFormatError
from engine.domain.rover_vote import TextAnswer

AUDIO_COLUMN = "INPUT:audio"
TEXT_COLUMN = "OUTPUT:transcription"
WORKER_COLUMN = "ASSIGNMENT:worker_id"

# Crowd answers are long; the csv module's default field limit (128 KiB) is enough, but a
# stray quote can swallow the rest of a file, which we report instead of silently accepting.
_MAX_FIELD_CHARS = 20_000


def read_crowd_answers(path: str | Path) -> list[TextAnswer]:
    """All answers of a CrowdSpeech ``*-crowd.tsv`` file, in file order."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        header = reader.fieldnames or []
        missing = [c for c in (AUDIO_COLUMN, TEXT_COLUMN, WORKER_COLUMN) if c not in header]
        if missing:
            raise DatasetFormatError(path, f"missing column(s) {missing}; header is {header}", 1)
        answers: list[TextAnswer] = []
        for row in reader:
            line = reader.line_num
            audio, text, worker = row[AUDIO_COLUMN], row[TEXT_COLUMN], row[WORKER_COLUMN]
            if audio is None or text is None or worker is None:
                raise DatasetFormatError(path, "row has fewer fields than the header", line)
            if not audio.strip() or not worker.strip():
                raise DatasetFormatError(path, "empty audio or worker id", line)
            if len(text) > _MAX_FIELD_CHARS:
                raise DatasetFormatError(path, "transcription too long (unbalanced quote?)", line)
            answers.append(TextAnswer(task=audio.strip(), worker=worker.strip(), text=text))
    if not answers:
        raise DatasetFormatError(path, "no answers")
    return answers


def read_ground_truth(path: str | Path) -> dict[str, str]:
    """``audio -> true transcript`` from a header-less ``audio<TAB>text`` file."""
    path = Path(path)
    truth: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise DatasetFormatError(
                    path, f"expected 'audio<TAB>text', got {len(fields)} field(s)", line_number
                )
            audio, text = fields[0].strip(), fields[1]
            if audio in truth:
                raise DatasetFormatError(path, f"duplicate audio {audio!r}", line_number)
            truth[audio] = text
    if not truth:
        raise DatasetFormatError(path, "no ground-truth lines")
    return truth


def read_baselines(path: str | Path) -> dict[str, dict[str, str]]:
    """``method column -> audio -> text`` from a ``*-baselines.tsv`` file.

    Every column other than ``audio`` is returned (``transcription`` is the ground truth,
    the others are the authors' aggregated outputs).
    """
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        header = reader.fieldnames or []
        if "audio" not in header or len(header) < 2:
            raise DatasetFormatError(path, f"expected 'audio' and method columns, got {header}", 1)
        methods = [c for c in header if c != "audio"]
        result: dict[str, dict[str, str]] = {m: {} for m in methods}
        for row in reader:
            if any(row[c] is None for c in header):
                raise DatasetFormatError(
                    path, "row has fewer fields than the header", reader.line_num
                )
            for method in methods:
                result[method][row["audio"].strip()] = row[method]
    return result
