"""Transcript scoring: WER, CER, corpus WER and word-level diffs, all with jiwer 4.

Every function normalises both texts with :func:`engine.domain.text_normalization.normalize_text`
first (or with the normaliser passed in), so scores never depend on case or punctuation. The
exception is the *surface* WER (:func:`surface_word_error_rate`, :func:`transcript_wer`): only
whitespace is collapsed, so ``"Cooperative."`` vs ``"cooperative"`` is an error; it measures
a deliverable as a reader sees it, next to the normalised WER.

Empty references are defined, not errors: when the normalised reference has no words (or
characters, for CER), the error rate is 0.0 if the hypothesis is empty too and 1.0 otherwise
(a bounded "entirely wrong", so that means over utterances stay meaningful). Corpus WER
divides all errors by all reference words; utterances with empty references still add their
insertions, and a corpus with no reference words at all follows the same 0.0 / 1.0 rule.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import jiwer
from rapidfuzz.distance import Indel  # jiwer 4's own edit-distance engine

from engine.domain.text_normalization import crowdspeech_normalize, normalize_text

Normalizer = Callable[[str], str]

_WORDS = jiwer.ReduceToListOfListOfWords()
_CHARS = jiwer.ReduceToListOfListOfChars()


@dataclass(frozen=True)
class ErrorCounts:
    """Edit operations that turn a reference into a hypothesis."""

    hits: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def reference_length(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def error_rate(self) -> float:
        return _rate(self.errors, self.reference_length)


@dataclass(frozen=True)
class WordEdit:
    """One edit span; positions are word indices in the normalised texts, ends exclusive."""

    operation: Literal["substitute", "delete", "insert"]
    reference_start: int
    reference_end: int
    hypothesis_start: int
    hypothesis_end: int
    reference_words: tuple[str, ...]
    hypothesis_words: tuple[str, ...]


def _rate(errors: int, reference_length: int) -> float:
    if reference_length == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / reference_length


def word_error_counts(
    reference: str, hypothesis: str, normalizer: Normalizer = normalize_text
) -> ErrorCounts:
    """Word-level hits, substitutions, deletions and insertions after normalisation."""
    output = jiwer.process_words(
        normalizer(reference),
        normalizer(hypothesis),
        reference_transform=_WORDS,
        hypothesis_transform=_WORDS,
    )
    return ErrorCounts(output.hits, output.substitutions, output.deletions, output.insertions)


def word_error_rate(
    reference: str, hypothesis: str, normalizer: Normalizer = normalize_text
) -> float:
    """WER of ``hypothesis`` against ``reference`` (see the module docstring for empty ones)."""
    return word_error_counts(reference, hypothesis, normalizer).error_rate


def character_error_rate(
    reference: str, hypothesis: str, normalizer: Normalizer = normalize_text
) -> float:
    """CER on the normalised texts; single spaces between words count as characters."""
    ref, hyp = normalizer(reference), normalizer(hypothesis)
    if not ref:
        return _rate(len(hyp), 0)
    output = jiwer.process_characters(
        ref, hyp, reference_transform=_CHARS, hypothesis_transform=_CHARS
    )
    return _rate(output.substitutions + output.deletions + output.insertions, len(ref))


def corpus_error_counts(
    pairs: Iterable[tuple[str, str]], normalizer: Normalizer = normalize_text
) -> ErrorCounts:
    """Summed word-level counts over ``(reference, hypothesis)`` pairs."""
    hits = substitutions = deletions = insertions = 0
    for reference, hypothesis in pairs:
        counts = word_error_counts(reference, hypothesis, normalizer)
        hits += counts.hits
        substitutions += counts.substitutions
        deletions += counts.deletions
        insertions += counts.insertions
    return ErrorCounts(hits, substitutions, deletions, insertions)


def corpus_word_error_rate(
    pairs: Iterable[tuple[str, str]], normalizer: Normalizer = normalize_text
) -> float:
    """All word errors over all reference words (not a mean of per-utterance rates)."""
    return corpus_error_counts(pairs, normalizer).error_rate


def collapse_whitespace(text: str) -> str:
    """``text`` with runs of whitespace as single spaces, trimmed: the surface WER's only change."""
    return " ".join(text.split())


def surface_word_error_rate(reference: str, hypothesis: str) -> float:
    """Case- and punctuation-sensitive WER: words are compared exactly as written."""
    return word_error_rate(reference, hypothesis, collapse_whitespace)


@dataclass(frozen=True)
class TranscriptWer:
    """Corpus WER of delivered transcripts, normalised and as written (fractions, not %)."""

    normalised: float
    surface: float
    reference_words: int


def transcript_wer(pairs: Iterable[tuple[str, str]]) -> TranscriptWer:
    """Normalised and surface corpus WER over ``(reference, hypothesis)`` pairs, for reports
    on references that keep case and punctuation (the Harvard sentences, jfk)."""
    listed = list(pairs)
    normalised = corpus_error_counts(listed)
    return TranscriptWer(
        normalised.error_rate,
        corpus_error_counts(listed, collapse_whitespace).error_rate,
        normalised.reference_length,
    )


def mean_utterance_wer(
    pairs: Iterable[tuple[str, str]], normalizer: Normalizer = crowdspeech_normalize
) -> float:
    """Mean of per-utterance WER: the CrowdSpeech authors' metric (with their normalisation).

    Raises ``ValueError`` on no pairs, where a mean is undefined.
    """
    rates = [word_error_rate(ref, hyp, normalizer) for ref, hyp in pairs]
    if not rates:
        raise ValueError("mean_utterance_wer needs at least one (reference, hypothesis) pair")
    return sum(rates) / len(rates)


def _min_edit_operations(ref: Sequence[str], hyp: Sequence[str]) -> list[str]:
    """Per-position operations of a minimum-edit alignment.

    Among alignments with the fewest edits (the count jiwer reports), it keeps the most words
    matched and then substitutes the most similar words (jiwer may substitute three words
    where delete + match + insert reads better to a worker).
    """
    n, m = len(ref), len(hyp)
    # cost[i][j] = (edits, -hits, dissimilarity of substituted words) for ref[:i] -> hyp[:j]
    cost: list[list[tuple[int, int, float]]] = [[(0, 0, 0.0)] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = (i, 0, 0.0)
    for j in range(1, m + 1):
        cost[0][j] = (j, 0, 0.0)

    def diagonal(i: int, j: int) -> tuple[int, int, float]:
        edits, negative_hits, dissimilarity = cost[i - 1][j - 1]
        if ref[i - 1] == hyp[j - 1]:
            return edits, negative_hits - 1, dissimilarity
        distance = Indel.normalized_distance(ref[i - 1], hyp[j - 1])
        return edits + 1, negative_hits, dissimilarity + distance

    def gap(previous: tuple[int, int, float]) -> tuple[int, int, float]:
        return previous[0] + 1, previous[1], previous[2]

    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(diagonal(i, j), gap(cost[i - 1][j]), gap(cost[i][j - 1]))
    operations: list[str] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == diagonal(i, j):
            operations.append("equal" if ref[i - 1] == hyp[j - 1] else "substitute")
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == gap(cost[i - 1][j]):
            operations.append("delete")
            i -= 1
        else:
            operations.append("insert")
            j -= 1
    operations.reverse()
    return operations


def word_diff(
    reference: str, hypothesis: str, normalizer: Normalizer = normalize_text
) -> list[WordEdit]:
    """The edits that turn ``reference`` into ``hypothesis``, in order, for worker feedback.

    The alignment has as many edits as jiwer counts for :func:`word_error_rate`; among such
    alignments it keeps the most words matched. Consecutive edits of one kind form one span.
    """
    ref_words = normalizer(reference).split()
    hyp_words = normalizer(hypothesis).split()
    edits: list[WordEdit] = []
    i = j = 0
    operations = _min_edit_operations(ref_words, hyp_words)
    position = 0
    while position < len(operations):
        operation = operations[position]
        run_end = position
        while run_end < len(operations) and operations[run_end] == operation:
            run_end += 1
        length = run_end - position
        ref_length = 0 if operation == "insert" else length
        hyp_length = 0 if operation == "delete" else length
        if operation != "equal":
            edits.append(
                WordEdit(
                    operation=operation,  # type: ignore[arg-type]
                    reference_start=i,
                    reference_end=i + ref_length,
                    hypothesis_start=j,
                    hypothesis_end=j + hyp_length,
                    reference_words=tuple(ref_words[i : i + ref_length]),
                    hypothesis_words=tuple(hyp_words[j : j + hyp_length]),
                )
            )
        i += ref_length
        j += hyp_length
        position = run_end
    return edits
