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

Surface form: the vote runs on normalised tokens (``TextConsensus.text``, what scoring and the
benchmark read), but a deliverable should keep what workers typed. Each answer is also split
on whitespace into surface words, each covering the tokens it normalises to (``"1839"`` covers
three, a lone ``"—"`` none: it stays attached to the word before). Walking the winning slots
in order, every supporter whose surface word starts at the slot and covers exactly the next
winning slots it voted for proposes that word; the proposal with the highest summed weight is
written (ties: the best-ranked voter's), so ``"2 pm"`` vs ``"two pm"`` keeps the majority's
form and ``"Cooperative."`` keeps its capital and full stop. A capital that only marks the
start of the voter's own sentence counts as lower case, and the consensus's own sentence
starts are capitalised when the answers use capitals at all (``TextConsensus.surface_text``).

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
from functools import lru_cache
from statistics import median
from typing import Literal

from rapidfuzz.distance import Levenshtein  # jiwer 4's own edit-distance engine

from engine.domain.subtitle_cues import ends_sentence
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
class SurfaceWord:
    """A word of the consensus as written (case, punctuation, numerals), with no spaces inside.

    ``agreement`` is the mean share of voter weight over the slots it covers; ``tokens`` how
    many consensus tokens it stands for (0 for punctuation typed as a word of its own).
    """

    text: str
    agreement: float
    tokens: int = 1


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
    surface_words: tuple[SurfaceWord, ...] = ()

    @property
    def surface_text(self) -> str:
        """The consensus as written by the answers that voted for it (see module docstring)."""
        return " ".join(w.text for w in self.surface_words) if self.surface_words else self.text


@dataclass(frozen=True)
class TextAggregation:
    """Consensus per task plus the worker skills used (estimated or given)."""

    consensus: dict[str, TextConsensus]
    worker_weights: dict[str, float]
    worker_error_rates: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Unit:
    """A voter's surface word: whitespace pieces as typed and the tokens they stand for."""

    pieces: tuple[str, ...]
    first_token: int
    token_count: int
    sentence_initial: bool


@dataclass
class _Network:
    """Aligned answers of one task: ``slots[s][v]`` is voter v's word in slot s, or None."""

    voters: list[str]
    tokens: list[list[str]]
    slots: list[list[str | None]]
    rank: list[int]  # tie-break order: 0 = medoid
    groups: list[dict[str | None, list[int]]]  # per slot: choice -> voters
    units: list[list[_Unit]] = field(default_factory=list)  # per voter: its surface words
    uses_case: bool = False  # whether any answer has a capital letter


def tokenize(text: str, spoken: bool = True) -> list[str]:
    """Tokens that consensus votes on: normalised, numbers and titles spelled out if ``spoken``."""
    words = normalize_words(text)
    return spoken_form(words) if spoken else words


# Last characters a sentence end can have (a cheap test before ends_sentence).
_MAYBE_SENTENCE_END = frozenset(".?!…。？！\"'”’»)]}")
_TRAILING_MARKS = ".?!…,;:\"'”’»)]}"


@lru_cache(maxsize=1 << 16)
def _token_count(piece: str, spoken: bool) -> int:
    # Answers to one utterance repeat each other's words: counting each piece once pays.
    return len(tokenize(piece, spoken))


def surface_units(text: str, tokens: Sequence[str], spoken: bool = True) -> list[_Unit]:
    """``text`` split on whitespace into surface words over ``tokens`` (its :func:`tokenize`).

    Pieces that normalise to no token join the word before (the first word, if leading).
    Returns ``[]`` when per-piece tokens do not add up to ``tokens`` (never seen; the caller
    then writes the normalised tokens).
    """
    units: list[_Unit] = []
    pending: list[str] = []  # token-less pieces before the first word
    position = 0
    sentence_start = True
    for piece in text.split():
        count = _token_count(piece, spoken)
        if count == 0:
            if units:
                last = units[-1]
                units[-1] = _Unit((*last.pieces, piece), last.first_token, last.token_count,
                                  last.sentence_initial)  # fmt: skip
            else:
                pending.append(piece)
        else:
            units.append(_Unit((*pending, piece), position, count, sentence_start))
            pending = []
            position += count
        ends = piece[-1] in _MAYBE_SENTENCE_END and ends_sentence(piece)
        sentence_start = ends if count else sentence_start or ends
    if position != len(tokens):
        return []
    return units


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


def _build_network(
    voters: list[str],
    tokens: list[list[str]],
    weights: list[float],
    texts: Sequence[str] | None = None,
    spoken: bool = True,
) -> _Network:
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
    units = (
        [surface_units(t, tok, spoken) for t, tok in zip(texts, tokens, strict=True)]
        if (texts is not None)
        else []
    )
    uses_case = texts is not None and any(c.isupper() for text in texts for c in text)
    return _Network(voters, tokens, slots, rank, groups, units, uses_case)


def _slot_positions(network: _Network) -> list[list[int]]:
    """Per voter, the slot index of each of its tokens."""
    positions: list[list[int]] = [[] for _ in network.voters]
    for s, slot in enumerate(network.slots):
        for voter, entry in enumerate(slot):
            if entry is not None:
                positions[voter].append(s)
    return positions


def _case_key(unit: _Unit) -> tuple[str, ...]:
    """The unit's pieces, with a capital that only starts the voter's sentence lowered."""
    pieces = unit.pieces
    first = pieces[0]
    head = next((i for i, c in enumerate(first) if c.isalpha()), None)
    if not unit.sentence_initial or head is None or not first[head].isupper():
        return pieces
    word = first[head:].rstrip(_TRAILING_MARKS)
    if word[1:2].isupper() or word == "I" or word.startswith(("I'", "I’")):
        return pieces  # an acronym or "I": the capital is not the sentence's
    return (first[:head] + first[head].lower() + first[head + 1 :], *pieces[1:])


def _capitalised(piece: str) -> str:
    head = next((i for i, c in enumerate(piece) if c.isalpha()), None)
    if head is None:
        return piece
    return piece[:head] + piece[head].upper() + piece[head + 1 :]


def _render(
    network: _Network,
    weights: list[float],
    choices: Sequence[str | None],
    shares: Sequence[float],
) -> tuple[SurfaceWord, ...]:
    """Surface words for the winning slots (see the module docstring)."""
    winners = [s for s, choice in enumerate(choices) if choice is not None]
    if not network.units or not winners:
        return ()
    order = {slot: p for p, slot in enumerate(winners)}
    # proposals[p]: (pieces, winning slots covered) -> [summed weight, best rank]
    proposals: list[dict[tuple[tuple[str, ...], int], list[float]]] = [{} for _ in winners]
    for voter, (units, positions) in enumerate(
        zip(network.units, _slot_positions(network), strict=True)
    ):
        for unit in units:
            slots = positions[unit.first_token : unit.first_token + unit.token_count]
            start = order.get(slots[0])
            if start is None or any(
                order.get(slot) != start + i or network.slots[slot][voter] != choices[slot]
                for i, slot in enumerate(slots)
            ):
                continue
            entry = proposals[start].setdefault(
                (_case_key(unit), len(slots)), [0.0, float(len(network.voters))]
            )
            entry[0] += weights[voter]
            entry[1] = min(entry[1], network.rank[voter])
    words: list[SurfaceWord] = []
    p = 0
    while p < len(winners):
        if proposals[p]:
            (pieces, span), _ = max(proposals[p].items(), key=lambda kv: (kv[1][0], -kv[1][1]))
        else:  # no supporter's word starts here: write the token itself
            pieces, span = (str(choices[winners[p]]),), 1
        agreement = sum(shares[s] for s in winners[p : p + span]) / span
        spoken_piece = next((i for i, x in enumerate(pieces) if normalize_words(x)), 0)
        for i, piece in enumerate(pieces):
            words.append(SurfaceWord(piece, agreement, span if i == spoken_piece else 0))
        p += span
    if network.uses_case:
        sentence_start = True
        for i, word in enumerate(words):
            if sentence_start:
                words[i] = SurfaceWord(_capitalised(word.text), word.agreement, word.tokens)
            if word.tokens or ends_sentence(word.text):
                sentence_start = ends_sentence(word.text)
    return tuple(words)


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
    surface = _render(network, weights, choices, shares)
    return TextConsensus(
        text=" ".join(w.word for w in words),
        words=words,
        agreement=sum(shares) / len(shares),
        voter_errors=dict(zip(network.voters, errors, strict=True)),
        medoid=network.voters[network.rank.index(0)],
        method=method,
        surface_words=surface,
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
    texts = [text for _, text in pairs]
    tokens = [tokenize(text, spoken) for text in texts]
    network = _build_network(voters, tokens, voter_weights, texts, spoken)
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
        texts = [text for _, text in pairs]
        tokens = [tokenize(text, spoken) for text in texts]
        networks[task] = _build_network(
            voters, tokens, _weights_for(voters, start_weights, asr_weight), texts, spoken
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
