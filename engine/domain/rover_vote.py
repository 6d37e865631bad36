"""Text consensus in the ROVER family: align answers into a word transition network, then vote.

For one task (one utterance), every answer is normalised (:func:`normalize_words`, plus
:func:`spoken_form` by default so that ``16``/``sixteen`` and ``mrs``/``missus`` agree) and the
answers are aligned one by one into a growing word transition network (WTN): a list of slots,
each holding one word or a gap per voter. Alignment starts from the medoid answer (the least
total word edit distance to the others, weighted) and adds the others closest-first; a word
costs ``1 - share of earlier voters with the same word in that slot``, skipping a slot costs
the share of earlier voters who had a word there, and opening a new slot costs 1.

Each slot is then decided by weighted vote: a word gets the weights of the voters who wrote
it, a gap gets ``gap_weight`` times the weights of the voters who wrote nothing there (a
little below 1: measured on CrowdSpeech, omissions are slightly less reliable than words).
Ties go to the choice of the best-ranked voter (the medoid first).

Across many tasks, :func:`aggregate_texts` estimates worker skill without truth, HRRASA/Wawa
style: consensus -> each worker's word error rate against the consensus over all their tasks
(smoothed towards a prior) -> weight ``1 / (error rate + 0.02)`` -> consensus again. The WTN
does not depend on the weights, so it is built once per task and only the vote is repeated.

An optional ASR draft takes part as one more, low-weight voter (``ASR_VOTER``); it never
counts in skill estimates.

Measured on CrowdSpeech (mean per-utterance WER %, authors' metric, dev-clean / dev-other):
this default 5.43 / 11.35; equal weights 6.09 / 12.53; without spoken form 5.78 / 11.53;
selecting the best whole answer 5.65 / 11.74 (authors' ROVER 6.76 / 13.19, T5 5.72 / 11.27).
Character-similarity alignment costs, phrase-level voting between agreed words, leave-one-out
skill estimates, log-odds weights and more skill iterations measured no better or worse.
The sharp weights suit crowd errors, which are correlated (workers mishear alike); when
errors are independent, equal weights would do better, since the best worker can then
outvote four others who agree.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Literal

from rapidfuzz.distance import Levenshtein  # jiwer 4's own edit-distance engine

from engine.domain.text_normalization import normalize_words, spoken_form

ASR_VOTER = "__asr__"
"""Voter id of the ASR draft in consensus results."""

DEFAULT_GAP_WEIGHT = 0.8
DEFAULT_ITERATIONS = 2
# Skill smoothing: every worker starts with PRIOR_WORDS words at PRIOR_ERROR_RATE errors, so a
# worker seen on one short utterance is not trusted (or distrusted) on that alone.
PRIOR_WORDS = 20.0
PRIOR_ERROR_RATE = 0.2
# Weight = 1 / (error rate + WEIGHT_FLOOR): sharper than log-odds, which measured worse.
WEIGHT_FLOOR = 0.02

Method = Literal["vote", "select"]


@dataclass(frozen=True)
class TextAnswer:
    """One worker's transcription of one task."""

    task: str
    worker: str
    text: str


@dataclass(frozen=True)
class ConsensusWord:
    """A word of the consensus, with the share of voter weight that wrote it in its slot."""

    word: str
    agreement: float
    supporters: tuple[str, ...]


@dataclass(frozen=True)
class TextConsensus:
    """Consensus for one task.

    ``agreement`` is the mean, over all WTN slots, of the winning choice's share of voter
    weight (1.0 when every voter wrote the same words). ``voter_errors`` counts, per voter,
    the slots where the voter differs from the consensus (word, or word vs gap).
    """

    text: str
    words: tuple[ConsensusWord, ...]
    agreement: float
    voter_errors: dict[str, int]
    medoid: str | None
    method: Method = "vote"


@dataclass(frozen=True)
class TextAggregation:
    """Consensus per task plus the worker skills used (estimated or given)."""

    consensus: dict[str, TextConsensus]
    worker_weights: dict[str, float]
    worker_error_rates: dict[str, float] = field(default_factory=dict)


@dataclass
class _Network:
    """Aligned answers of one task: ``slots[s][v]`` is voter v's word in slot s, or None."""

    voters: list[str]
    tokens: list[list[str]]
    slots: list[list[str | None]]
    rank: list[int]  # tie-break order: 0 = medoid
    groups: list[dict[str | None, list[int]]]  # per slot: choice -> voters


def tokenize(text: str, spoken: bool = True) -> list[str]:
    """Tokens that consensus votes on: normalised, numbers and titles spelled out if ``spoken``."""
    words = normalize_words(text)
    return spoken_form(words) if spoken else words


def _align_into(
    slots: list[list[str | None]],
    counts: list[dict[str, float]],
    seen_weight: float,
    voter: int,
    weight: float,
    tokens: list[str],
    n_voters: int,
) -> tuple[list[list[str | None]], list[dict[str, float]]]:
    """Align ``tokens`` against the slots built so far (dynamic programming, profile costs)."""
    n, m = len(slots), len(tokens)
    inverse = 1.0 / seen_weight
    skip_cost = [sum(c.values()) * inverse for c in counts]
    previous = [0.0] * (n + 1)
    for j in range(1, n + 1):
        previous[j] = previous[j - 1] + skip_cost[j - 1]
    # back[i][j]: 0 = word i into slot j, 1 = new slot for word i, 2 = gap in slot j
    back: list[bytearray] = [bytearray([2]) * (n + 1)]
    for word in tokens:
        diagonal = [1.0 - c.get(word, 0.0) * inverse for c in counts]
        left = previous[0] + 1.0
        current = [left]
        steps = bytearray(n + 1)
        steps[0] = 1
        columns = zip(previous, previous[1:], diagonal, skip_cost, strict=False)
        for j, (corner, above, match, skip) in enumerate(columns, start=1):
            best = corner + match
            cost = above + 1.0
            if cost < best:
                best = cost
                steps[j] = 1
            cost = left + skip
            if cost < best:
                best = cost
                steps[j] = 2
            current.append(best)
            left = best
        back.append(steps)
        previous = current
    new_slots: list[list[str | None]] = []
    new_counts: list[dict[str, float]] = []
    i, j = m, n
    while i > 0 or j > 0:
        step = 1 if j == 0 else back[i][j]
        if step == 0:
            word = tokens[i - 1]
            slot, count = slots[j - 1], counts[j - 1]
            slot[voter] = word
            count[word] = count.get(word, 0.0) + weight
            i, j = i - 1, j - 1
        elif step == 1:
            word = tokens[i - 1]
            slot = [None] * n_voters
            slot[voter] = word
            count = {word: weight}
            i -= 1
        else:
            slot, count = slots[j - 1], counts[j - 1]
            j -= 1
        new_slots.append(slot)
        new_counts.append(count)
    new_slots.reverse()
    new_counts.reverse()
    return new_slots, new_counts


def _build_network(voters: list[str], tokens: list[list[str]], weights: list[float]) -> _Network:
    k = len(tokens)
    total = [
        sum(weights[j] * Levenshtein.distance(tokens[i], tokens[j]) for j in range(k) if j != i)
        for i in range(k)
    ]
    by_total = sorted(range(k), key=lambda i: (total[i], -weights[i], i))
    rank = [0] * k
    for position, voter in enumerate(by_total):
        rank[voter] = position
    medoid = by_total[0]
    to_medoid = [Levenshtein.distance(tokens[medoid], tokens[v]) for v in range(k)]
    order = sorted(range(k), key=lambda v: (v != medoid, to_medoid[v], rank[v]))

    slots: list[list[str | None]] = []
    counts: list[dict[str, float]] = []
    seen = 0.0
    for voter in order:
        weight = max(weights[voter], 1e-9)
        if seen == 0.0:
            for word in tokens[voter]:
                slot: list[str | None] = [None] * k
                slot[voter] = word
                slots.append(slot)
                counts.append({word: weight})
        else:
            slots, counts = _align_into(slots, counts, seen, voter, weight, tokens[voter], k)
        seen += weight
    groups: list[dict[str | None, list[int]]] = []
    for slot in slots:
        group: dict[str | None, list[int]] = {}
        for voter, entry in enumerate(slot):
            group.setdefault(entry, []).append(voter)
        groups.append(group)
    return _Network(voters, tokens, slots, rank, groups)


def _vote(
    network: _Network, weights: list[float], gap_weight: float
) -> tuple[list[str | None], list[float]]:
    """Winning choice per slot and its share of the total voter weight."""
    total = sum(weights) or 1.0
    rank = network.rank
    choices: list[str | None] = []
    shares: list[float] = []
    for group in network.groups:
        best: str | None = None
        best_key = (-1.0, 0)
        best_raw = 0.0
        for choice, members in group.items():
            raw = sum(weights[v] for v in members)
            score = raw * gap_weight if choice is None else raw
            key = (score, -min(rank[v] for v in members))
            if key > best_key:
                best, best_key, best_raw = choice, key, raw
        choices.append(best)
        shares.append(best_raw / total)
    return choices, shares


def _voter_errors(network: _Network, choices: list[str | None]) -> list[int]:
    errors = [0] * len(network.voters)
    for slot, choice in zip(network.slots, choices, strict=True):
        for voter, word in enumerate(slot):
            if word != choice:
                errors[voter] += 1
    return errors


def _select(network: _Network, weights: list[float]) -> int:
    """The voter whose whole answer has the least weighted edit distance to the others."""
    tokens = network.tokens
    k = len(tokens)
    return min(
        range(k),
        key=lambda i: (
            sum(weights[j] * Levenshtein.distance(tokens[i], tokens[j]) for j in range(k)),
            network.rank[i],
        ),
    )


def _result(
    network: _Network, weights: list[float], gap_weight: float, method: Method
) -> TextConsensus:
    if not network.slots:
        medoid = network.voters[network.rank.index(0)] if network.voters else None
        return TextConsensus("", (), 1.0, dict.fromkeys(network.voters, 0), medoid, method)
    choices, shares = _vote(network, weights, gap_weight)
    if method == "select":
        chosen = _select(network, weights)
        choices = [slot[chosen] for slot in network.slots]
        total = sum(weights) or 1.0
        shares = [
            sum(weights[v] for v in group.get(choice, ())) / total
            for group, choice in zip(network.groups, choices, strict=True)
        ]
    words = tuple(
        ConsensusWord(
            word=choice,
            agreement=share,
            supporters=tuple(network.voters[v] for v in network.groups[s][choice]),
        )
        for s, (choice, share) in enumerate(zip(choices, shares, strict=True))
        if choice is not None
    )
    errors = _voter_errors(network, choices)
    return TextConsensus(
        text=" ".join(w.word for w in words),
        words=words,
        agreement=sum(shares) / len(shares),
        voter_errors=dict(zip(network.voters, errors, strict=True)),
        medoid=network.voters[network.rank.index(0)],
        method=method,
    )


def _weights_for(
    voters: Sequence[str], weights: Mapping[str, float] | None, asr_weight: float | None
) -> list[float]:
    """Per-voter weights; unknown workers get the median known weight (1.0 without weights)."""
    known = [w for w in (weights or {}).values() if w > 0]
    fallback = median(known) if known else 1.0
    values = [float((weights or {}).get(voter, fallback)) for voter in voters if voter != ASR_VOTER]
    if any(v < 0 for v in values):
        raise ValueError("worker weights must be non-negative")
    result: list[float] = []
    for voter in voters:
        if voter == ASR_VOTER:
            mean = sum(values) / len(values) if values else 1.0
            result.append(asr_weight if asr_weight is not None else 0.5 * mean)
        else:
            result.append(float((weights or {}).get(voter, fallback)))
    return result


def rover_vote(
    answers: Sequence[tuple[str, str]] | Mapping[str, str],
    weights: Mapping[str, float] | None = None,
    *,
    asr_draft: str | None = None,
    asr_weight: float | None = None,
    gap_weight: float = DEFAULT_GAP_WEIGHT,
    spoken: bool = True,
    method: Method = "vote",
) -> TextConsensus:
    """Consensus of one task's answers, given as ``(worker, text)`` pairs or ``worker -> text``.

    ``weights`` maps worker -> skill weight (default: all equal). ``asr_draft`` joins as voter
    ``ASR_VOTER`` with ``asr_weight`` (default: half the mean worker weight). ``method="select"``
    returns the best whole answer instead of the word-by-word vote.
    """
    pairs = list(answers.items()) if isinstance(answers, Mapping) else list(answers)
    if asr_draft is not None:
        pairs.append((ASR_VOTER, asr_draft))
    if not pairs:
        raise ValueError("rover_vote needs at least one answer")
    voters = [worker for worker, _ in pairs]
    voter_weights = _weights_for(voters, weights, asr_weight)
    network = _build_network(voters, [tokenize(text, spoken) for _, text in pairs], voter_weights)
    return _result(network, voter_weights, gap_weight, method)


def aggregate_texts(
    answers: Iterable[TextAnswer],
    weights: Mapping[str, float] | None = None,
    *,
    estimate_skills: bool = True,
    iterations: int = DEFAULT_ITERATIONS,
    asr_drafts: Mapping[str, str] | None = None,
    asr_weight: float | None = None,
    gap_weight: float = DEFAULT_GAP_WEIGHT,
    spoken: bool = True,
    method: Method = "vote",
) -> TextAggregation:
    """Consensus for every task, with unsupervised worker-skill estimation.

    With ``estimate_skills`` (default) the skill loop runs ``iterations`` times starting from
    ``weights`` (or equal weights); otherwise ``weights`` are used as given.
    """
    by_task: dict[str, list[tuple[str, str]]] = {}
    for answer in answers:
        by_task.setdefault(answer.task, []).append((answer.worker, answer.text))
    if asr_drafts:
        for task, draft in asr_drafts.items():
            by_task.setdefault(task, []).append((ASR_VOTER, draft))

    start_weights = dict(weights or {})
    networks: dict[str, _Network] = {}
    for task, pairs in by_task.items():
        voters = [worker for worker, _ in pairs]
        tokens = [tokenize(text, spoken) for _, text in pairs]
        networks[task] = _build_network(
            voters, tokens, _weights_for(voters, start_weights, asr_weight)
        )

    current = start_weights
    error_rates: dict[str, float] = {}
    rounds = iterations if estimate_skills else 0
    for _ in range(rounds):
        errors: dict[str, float] = {}
        lengths: dict[str, float] = {}
        for network in networks.values():
            voter_weights = _weights_for(network.voters, current, asr_weight)
            choices, _ = _vote(network, voter_weights, gap_weight)
            reference_length = max(sum(c is not None for c in choices), 1)
            for voter, error in zip(network.voters, _voter_errors(network, choices), strict=True):
                if voter == ASR_VOTER:
                    continue
                errors[voter] = errors.get(voter, 0.0) + error
                lengths[voter] = lengths.get(voter, 0.0) + reference_length
        error_rates = {
            worker: (errors[worker] + PRIOR_ERROR_RATE * PRIOR_WORDS)
            / (lengths[worker] + PRIOR_WORDS)
            for worker in errors
        }
        current = {worker: 1.0 / (rate + WEIGHT_FLOOR) for worker, rate in error_rates.items()}

    consensus = {
        task: _result(
            network, _weights_for(network.voters, current, asr_weight), gap_weight, method
        )
        for task, network in networks.items()
    }
    final_weights = {
        worker: float(current.get(worker, 1.0))
        for network in networks.values()
        for worker in network.voters
        if worker != ASR_VOTER
    }
    return TextAggregation(consensus, final_weights, error_rates)
