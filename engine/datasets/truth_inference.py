"""Reader for the truth-inference data sets (Zheng et al., VLDB 2017).

Each data set folder holds ``answer.csv`` (``question,worker,answer``) and ``truth.csv``
(``question,truth``); truth may cover only some questions. Labels stay strings.
"""

import csv
from pathlib import Path

from engine.datasets import DatasetFormatError
from engine.domain.dawid_skene import CategoricalAnswer


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DatasetFormatError(path, "empty file")
        header = [h.strip() for h in header]
        missing = [c for c in columns if c not in header]
        if missing:
            raise DatasetFormatError(path, f"missing column(s) {missing}; header is {header}", 1)
        index = [header.index(c) for c in columns]
        rows: list[tuple[int, list[str]]] = []
        for row in reader:
            if not row or all(not f.strip() for f in row):
                continue
            if len(row) < len(header):
                raise DatasetFormatError(
                    path, f"expected {len(header)} fields, got {len(row)}", reader.line_num
                )
            values = [row[i].strip() for i in index]
            if any(not v for v in values):
                raise DatasetFormatError(path, f"empty value in {list(columns)}", reader.line_num)
            rows.append((reader.line_num, values))
    return rows


def read_answers(path: str | Path) -> list[CategoricalAnswer]:
    """Answers from an ``answer.csv`` file (``question,worker,answer``)."""
    path = Path(path)
    answers = [
        CategoricalAnswer(question=q, worker=w, label=a)
        for _, (q, w, a) in _rows(path, ("question", "worker", "answer"))
    ]
    if not answers:
        raise DatasetFormatError(path, "no answers")
    return answers


def read_truth(path: str | Path) -> dict[str, str]:
    """``question -> true label`` from a ``truth.csv`` file (``question,truth``)."""
    path = Path(path)
    truth: dict[str, str] = {}
    for line, (question, label) in _rows(path, ("question", "truth")):
        if question in truth and truth[question] != label:
            raise DatasetFormatError(path, f"conflicting truth for question {question!r}", line)
        truth[question] = label
    return truth


def read_dataset(folder: str | Path) -> tuple[list[CategoricalAnswer], dict[str, str]]:
    """``(answers, truth)`` of a data set folder; truth is empty when ``truth.csv`` is absent."""
    folder = Path(folder)
    answers = read_answers(folder / "answer.csv")
    truth_path = folder / "truth.csv"
    truth = read_truth(truth_path) if truth_path.exists() else {}
    return answers, truth
