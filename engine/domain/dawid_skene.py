"""Categorical consensus: (weighted) majority vote and Dawid–Skene EM, vectorised with numpy.

Dawid & Skene (1979): every worker w has a confusion matrix ``C[w, true, observed]`` and
classes have priors ``p``. EM alternates

* E-step: ``log P(z_q = k) = log p_k + sum over answers (w, q, l) of log C[w, k, l]``;
* M-step: ``C[w, k, l]`` = expected count of worker w answering l when the truth is k, plus a
  smoothing pseudo-count, normalised over l; ``p`` = mean posterior, also smoothed.

It starts from the (weighted) majority-vote posteriors. Gold answers (known truth for some
questions) fix those posteriors to one-hot in every step, and the first confusion matrices
of the workers who answered gold questions come from those answers alone, so a worker who
is consistently wrong is caught even where the majority agrees with them. Iteration stops
when no posterior moves by more than ``tol`` or after ``max_iterations``.

Smoothing matters for workers with few answers: without it a worker seen twice gets a
confusion row of exact zeros and ones, and one answer can veto every other vote. The default
pseudo-count (``DEFAULT_SMOOTHING``) is added to every cell; it is small next to the
counts of a worker with many answers.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

DEFAULT_SMOOTHING = 0.01
DEFAULT_MAX_ITERATIONS = 100
DEFAULT_TOLERANCE = 1e-5
_FLOOR = 1e-10


@dataclass(frozen=True)
class CategoricalAnswer:
    """One worker's label for one question."""

    question: str
    worker: str
    label: str


@dataclass(frozen=True)
class CategoricalConsensus:
    """Result of an aggregation.

    ``posteriors[i, k]`` is P(truth of ``questions[i]`` = ``classes[k]``);
    ``confusions[w, k, l]`` is P(``workers[w]`` answers ``classes[l]`` | truth ``classes[k]``)
    (empty for majority vote). ``priors[k]`` is the estimated class frequency.
    """

    labels: dict[str, str]
    questions: tuple[str, ...]
    classes: tuple[str, ...]
    posteriors: np.ndarray
    workers: tuple[str, ...]
    confusions: np.ndarray
    priors: np.ndarray
    iterations: int

    def posterior(self, question: str) -> dict[str, float]:
        row = self.posteriors[self.questions.index(question)]
        return {label: float(p) for label, p in zip(self.classes, row, strict=True)}

    def confusion(self, worker: str) -> dict[str, dict[str, float]]:
        """``true label -> observed label -> probability`` for one worker."""
        matrix = self.confusions[self.workers.index(worker)]
        return {
            true: {seen: float(matrix[k, o]) for o, seen in enumerate(self.classes)}
            for k, true in enumerate(self.classes)
        }

    def worker_accuracy(self) -> dict[str, float]:
        """Each worker's expected accuracy: sum over k of prior_k * C[w, k, k]."""
        diagonal = np.einsum("wkk->wk", self.confusions)
        return {w: float(a) for w, a in zip(self.workers, diagonal @ self.priors, strict=True)}


@dataclass(frozen=True)
class _Encoded:
    questions: tuple[str, ...]
    workers: tuple[str, ...]
    classes: tuple[str, ...]
    question_index: np.ndarray
    worker_index: np.ndarray
    label_index: np.ndarray


def _sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _encode(answers: Iterable[CategoricalAnswer], extra_classes: Iterable[str] = ()) -> _Encoded:
    questions: dict[str, int] = {}
    workers: dict[str, int] = {}
    raw_q: list[int] = []
    raw_w: list[int] = []
    raw_l: list[str] = []
    for answer in answers:
        raw_q.append(questions.setdefault(answer.question, len(questions)))
        raw_w.append(workers.setdefault(answer.worker, len(workers)))
        raw_l.append(answer.label)
    if not raw_q:
        raise ValueError("no answers to aggregate")
    classes = tuple(sorted(set(raw_l) | set(extra_classes), key=_sort_key))
    class_index = {label: k for k, label in enumerate(classes)}
    return _Encoded(
        questions=tuple(questions),
        workers=tuple(workers),
        classes=classes,
        question_index=np.asarray(raw_q, dtype=np.int64),
        worker_index=np.asarray(raw_w, dtype=np.int64),
        label_index=np.asarray([class_index[label] for label in raw_l], dtype=np.int64),
    )


def _vote_posteriors(data: _Encoded, worker_weights: np.ndarray) -> np.ndarray:
    n_q, n_k = len(data.questions), len(data.classes)
    votes = np.bincount(
        data.question_index * n_k + data.label_index,
        weights=worker_weights[data.worker_index],
        minlength=n_q * n_k,
    ).reshape(n_q, n_k)
    totals = votes.sum(axis=1, keepdims=True)
    # A question whose voters all have zero weight falls back to a uniform posterior.
    return np.divide(votes, totals, out=np.full_like(votes, 1.0 / n_k), where=totals > 0)


def _worker_weight_array(data: _Encoded, weights: Mapping[str, float] | None) -> np.ndarray:
    if weights is None:
        return np.ones(len(data.workers))
    result = np.asarray([float(weights.get(w, 1.0)) for w in data.workers])
    if (result < 0).any():
        raise ValueError("worker weights must be non-negative")
    return result


def _gold_arrays(data: _Encoded, gold: Mapping[str, str] | None) -> tuple[np.ndarray, np.ndarray]:
    if not gold:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    q_lookup = {q: i for i, q in enumerate(data.questions)}
    k_lookup = {c: k for k, c in enumerate(data.classes)}
    pairs = [(q_lookup[q], k_lookup[label]) for q, label in gold.items() if q in q_lookup]
    if not pairs:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    rows, columns = zip(*pairs, strict=True)
    return np.asarray(rows, dtype=np.int64), np.asarray(columns, dtype=np.int64)


def _labels(data: _Encoded, posteriors: np.ndarray) -> dict[str, str]:
    # argmax takes the first maximum: ties go to the lowest class in sort order.
    best = posteriors.argmax(axis=1)
    return {q: data.classes[k] for q, k in zip(data.questions, best, strict=True)}


def majority_vote(
    answers: Iterable[CategoricalAnswer], weights: Mapping[str, float] | None = None
) -> CategoricalConsensus:
    """Weighted majority vote; posteriors are vote shares. Ties go to the lowest class."""
    data = _encode(answers)
    posteriors = _vote_posteriors(data, _worker_weight_array(data, weights))
    n_k = len(data.classes)
    return CategoricalConsensus(
        labels=_labels(data, posteriors),
        questions=data.questions,
        classes=data.classes,
        posteriors=posteriors,
        workers=data.workers,
        confusions=np.empty((0, n_k, n_k)),
        priors=posteriors.mean(axis=0),
        iterations=0,
    )


def _m_step(
    data: _Encoded, posteriors: np.ndarray, smoothing: float, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Confusions and priors from the answers selected by ``mask`` (default: all)."""
    n_w, n_k = len(data.workers), len(data.classes)
    cells = data.worker_index * n_k + data.label_index
    expected = posteriors[data.question_index]  # (answers, true class)
    if mask is not None:
        cells, expected = cells[mask], expected[mask]
    counts: np.ndarray = np.empty((n_w, n_k, n_k))
    for true_class in range(n_k):
        counts[:, true_class, :] = np.bincount(
            cells, weights=expected[:, true_class], minlength=n_w * n_k
        ).reshape(n_w, n_k)
    # The floor keeps smoothing=0 usable (a worker never seen with a class gets uniform rows).
    counts = np.maximum(counts + smoothing, _FLOOR)
    confusions = counts / counts.sum(axis=2, keepdims=True)
    priors = np.maximum(posteriors.sum(axis=0) + smoothing, _FLOOR)
    return confusions, priors / priors.sum()


def _e_step(data: _Encoded, confusions: np.ndarray, priors: np.ndarray) -> np.ndarray:
    n_q, n_k = len(data.questions), len(data.classes)
    log_confusions = np.log(confusions)
    # (answers, true class): log P(observed label | true class) of each answer's worker
    contributions = log_confusions[data.worker_index, :, data.label_index]
    log_posteriors = np.empty((n_q, n_k))
    for true_class in range(n_k):
        log_posteriors[:, true_class] = np.bincount(
            data.question_index, weights=contributions[:, true_class], minlength=n_q
        )
    log_posteriors += np.log(priors)
    log_posteriors -= log_posteriors.max(axis=1, keepdims=True)
    posteriors = np.exp(log_posteriors)
    return posteriors / posteriors.sum(axis=1, keepdims=True)


def dawid_skene(
    answers: Iterable[CategoricalAnswer],
    *,
    weights: Mapping[str, float] | None = None,
    gold: Mapping[str, str] | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    tol: float = DEFAULT_TOLERANCE,
) -> CategoricalConsensus:
    """Dawid–Skene EM from a (``weights``-weighted) majority-vote start.

    ``gold`` maps question -> known label; those questions keep a one-hot posterior (gold
    questions nobody answered are ignored; gold labels nobody used still become classes).
    """
    if smoothing < 0:
        raise ValueError("smoothing must be non-negative")
    data = _encode(answers, extra_classes=(gold or {}).values())
    gold_rows, gold_columns = _gold_arrays(data, gold)

    def anchor(posteriors: np.ndarray) -> np.ndarray:
        if gold_rows.size:
            posteriors[gold_rows] = 0.0
            posteriors[gold_rows, gold_columns] = 1.0
        return posteriors

    posteriors = anchor(_vote_posteriors(data, _worker_weight_array(data, weights)))
    confusions, priors = _m_step(data, posteriors, smoothing)
    if gold_rows.size:
        # Workers who answered gold questions start from the confusions those answers show,
        # not from agreement with a majority that may be wrong everywhere else.
        is_gold = np.zeros(len(data.questions), dtype=bool)
        is_gold[gold_rows] = True
        on_gold = is_gold[data.question_index]
        gold_confusions, _ = _m_step(data, posteriors, smoothing, on_gold)
        has_gold = np.zeros(len(data.workers), dtype=bool)
        has_gold[data.worker_index[on_gold]] = True
        confusions[has_gold] = gold_confusions[has_gold]
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (reported below)
        updated = anchor(_e_step(data, confusions, priors))
        change = float(np.abs(updated - posteriors).max())
        posteriors = updated
        confusions, priors = _m_step(data, posteriors, smoothing)
        if change < tol:
            break
    return CategoricalConsensus(
        labels=_labels(data, posteriors),
        questions=data.questions,
        classes=data.classes,
        posteriors=posteriors,
        workers=data.workers,
        confusions=confusions,
        priors=priors,
        iterations=iterations,
    )


def accuracy(labels: Mapping[str, str], truth: Mapping[str, str]) -> float:
    """Share of questions with truth whose label matches; questions without a label count wrong."""
    if not truth:
        raise ValueError("accuracy needs at least one question with truth")
    return sum(labels.get(q) == label for q, label in truth.items()) / len(truth)
