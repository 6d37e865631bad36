"""The delivered accuracy of a job, with its interval, from all the evidence (pure).

A delivered result is either checked (a reviewer saw it, so what is delivered is the
reviewer's answer) or not. For the unchecked ones, the chance that the consensus is right is
read from the workers' agreement on that task, calibrated on the tasks whose truth is known:
reviewed tasks (was the consensus accepted?) and gold tasks (did the consensus of the workers'
gold answers match the known answer?). Tasks are stratified by agreement, so that review
picking low-agreement tasks first does not bias the rest: within a stratum, the checked tasks
stand for the unchecked ones.

The interval is a posterior predictive one for the share of delivered results that are right:
per stratum the rate has a Jeffreys Beta posterior from its checked tasks, and the unchecked
count that is right is drawn from a binomial with that rate (seeded Monte Carlo, so the same
evidence always gives the same numbers). A stratum with no checked task has only the prior, and
the interval says so by being wide: the headline is withheld when it is wider than
``max_width``, and ``needed`` says where more checks would narrow it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Agreement strata: lower edges; the last stratum is closed at 1. One edge sits at the default
# review threshold (0.75): results under it are reviewed, those above mostly not, and a stratum
# across it would calibrate the unreviewed on the harder reviewed ones.
DEFAULT_STRATA = (0.0, 0.6, 0.75, 0.9)
DEFAULT_MAX_WIDTH = 0.10
DEFAULT_DRAWS = 4000
_JEFFREYS = 0.5
_LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class CheckedTask:
    """A task whose consensus was compared with known truth (gold answer or review)."""

    agreement: float
    consensus_correct: bool


@dataclass(frozen=True, slots=True)
class Stratum:
    low: float
    high: float
    delivered: int  # delivered results in the stratum
    reviewed: int  # of those, checked by a reviewer (right by definition)
    calibration_correct: int  # checked tasks (review or gold) whose consensus was right
    calibration_total: int


@dataclass(frozen=True, slots=True)
class AccuracyEstimate:
    value: float | None  # posterior mean share of delivered results that are right
    low: float | None
    high: float | None
    delivered: int
    reviewed: int
    calibration_tasks: int
    strata: tuple[Stratum, ...]
    max_width: float

    @property
    def width(self) -> float | None:
        return None if self.low is None or self.high is None else self.high - self.low

    @property
    def conclusive(self) -> bool:
        width = self.width
        return width is not None and width <= self.max_width + 1e-9

    def needed(self) -> list[str]:
        """What would narrow the interval: more checks where unchecked results are many and
        checked tasks few."""
        if self.conclusive:
            return []
        out: list[str] = []
        for s in self.strata:
            unchecked = s.delivered - s.reviewed
            if unchecked and s.calibration_total < 30:
                want = 30 - s.calibration_total
                out.append(
                    f"review a random sample of {min(want, unchecked)} of the {unchecked} "
                    f"unreviewed results with agreement {s.low:.0%}–{s.high:.0%} "
                    f"(now {s.calibration_total} checked there)"
                )
        if not out or self.calibration_tasks < 30:
            out.append("add gold tasks (known answers) to the job: each one calibrates agreement")
        return out


def _stratum_of(agreement: float, strata: Sequence[float]) -> int:
    index = 0
    for i, edge in enumerate(strata):
        if agreement >= edge:
            index = i
    return index


def estimate_delivered_accuracy(
    delivered_agreements: Sequence[float],
    reviewed: Sequence[bool],
    checked: Sequence[CheckedTask],
    *,
    strata: Sequence[float] = DEFAULT_STRATA,
    max_width: float = DEFAULT_MAX_WIDTH,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> AccuracyEstimate:
    """``delivered_agreements[i]``: agreement of delivered result i; ``reviewed[i]``: whether a
    reviewer checked it. ``checked``: every task with known truth (reviewed ones included)."""
    if len(delivered_agreements) != len(reviewed):
        raise ValueError("one reviewed flag per delivered result is needed")
    if not strata or strata[0] != 0.0 or list(strata) != sorted(set(strata)):
        raise ValueError(f"strata must rise from 0.0: {strata}")
    edges = [*strata, 1.0]
    n_strata = len(strata)
    delivered = [0] * n_strata
    reviewed_count = [0] * n_strata
    right = [0] * n_strata
    total = [0] * n_strata
    for agreement, was_reviewed in zip(delivered_agreements, reviewed, strict=True):
        i = _stratum_of(agreement, strata)
        delivered[i] += 1
        reviewed_count[i] += was_reviewed
    for task in checked:
        i = _stratum_of(task.agreement, strata)
        total[i] += 1
        right[i] += task.consensus_correct
    table = tuple(
        Stratum(edges[i], edges[i + 1], delivered[i], reviewed_count[i], right[i], total[i])
        for i in range(n_strata)
    )
    n = len(delivered_agreements)
    if n == 0:
        return AccuracyEstimate(None, None, None, 0, 0, len(checked), table, max_width)
    rng = np.random.default_rng(seed)
    right_draws = np.full(draws, float(sum(reviewed_count)))
    for s in table:
        unchecked = s.delivered - s.reviewed
        if unchecked == 0:
            continue
        rate = rng.beta(
            s.calibration_correct + _JEFFREYS,
            s.calibration_total - s.calibration_correct + _JEFFREYS,
            size=draws,
        )
        right_draws += rng.binomial(unchecked, rate)
    shares = right_draws / n
    tail = (1 - _LEVEL) / 2
    low, high = np.quantile(shares, [tail, 1 - tail])
    return AccuracyEstimate(
        float(shares.mean()),
        float(low),
        float(high),
        n,
        sum(reviewed_count),
        len(checked),
        table,
        max_width,
    )
