"""Bounding-box consensus: cluster workers' boxes per image, fuse, keep supported ones.

Per image:

1. Cluster by IoU within each label. Boxes are taken in order of their worker's weight (then
   larger first) and join the cluster whose fused box they overlap most (IoU >=
   ``iou_threshold``) among the clusters that worker has not joined yet; otherwise they open a
   new cluster. Then, until stable, every worker's boxes are re-matched one-to-one to the fused
   boxes (best IoU first), so that the greedy first pass does not leave a box in a worse cluster.
2. Join clusters of different labels that are one object seen under two names: their fused
   boxes overlap (IoU >= ``iou_threshold``) and no worker is in both (a worker who drew both
   boxes saw two objects). Without this, one worker's wrong label splits an object's votes and
   a box most workers drew is dropped, and the workers who drew it right are scored against a
   consensus that lacks it.
3. Fuse each cluster: coordinates are the skill-weighted mean of its members' coordinates, the
   label is the one with most member weight (ties: the first label in sort order).
4. Keep a cluster when its members' weight (``presence``) is at least ``min_support`` of the
   total weight of the workers who annotated the image (drawing no box is a vote for "no box").

Each fused box reports its members, ``support`` (weight share of the image's workers who drew
it with the fused label: its agreement as delivered), ``presence`` (share who drew it under any
label) and ``mean_iou`` (mean IoU of the members to the fused box). Each worker gets the fused
boxes they missed, those they drew under another label, and their boxes that ended up in no
kept cluster (extra boxes).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_MIN_SUPPORT = 0.5
_MAX_REFINEMENTS = 10


@dataclass(frozen=True)
class Box:
    """Axis-aligned box, ``x_min < x_max`` and ``y_min < y_max`` (any consistent unit)."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float
    label: str = ""

    def __post_init__(self) -> None:
        if not (self.x_min < self.x_max and self.y_min < self.y_max):
            raise ValueError(f"degenerate box {self}")

    @property
    def area(self) -> float:
        return (self.x_max - self.x_min) * (self.y_max - self.y_min)


@dataclass(frozen=True)
class BoxAnswer:
    """One box drawn by one worker on one image."""

    image: str
    worker: str
    box: Box


@dataclass(frozen=True)
class FusedBox:
    box: Box
    members: tuple[str, ...]
    support: float
    mean_iou: float
    presence: float


@dataclass(frozen=True)
class ImageBoxConsensus:
    """Kept boxes of one image, plus per worker the indices of kept boxes they missed, the
    boxes they drew that match no kept box, and the indices of kept boxes they drew under
    another label."""

    boxes: tuple[FusedBox, ...]
    missed: dict[str, tuple[int, ...]]
    extra: dict[str, tuple[Box, ...]]
    mislabelled: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Clusters under ``min_support``: objects some worker drew that the consensus left out.
    rejected: tuple[FusedBox, ...] = ()

    @property
    def agreement(self) -> float:
        """How far the workers agree on the whole image: over every object anyone drew, the
        share of worker weight that voted with the outcome (a kept box: those who drew it with
        its label; a left-out one: those who did not draw it), and of those the lowest, since
        the image is right only when every object is. 1.0 when nobody drew anything. Unlike
        the mean support of the kept boxes, a true box that most workers missed lowers it."""
        votes = [b.support for b in self.boxes] + [1.0 - b.presence for b in self.rejected]
        return min(votes, default=1.0)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (labels are ignored)."""
    width = min(a.x_max, b.x_max) - max(a.x_min, b.x_min)
    height = min(a.y_max, b.y_max) - max(a.y_min, b.y_min)
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    return intersection / (a.area + b.area - intersection)


def _fuse(members: Sequence[tuple[int, Box]], weights: list[float], label: str) -> Box:
    total = sum(weights[w] for w, _ in members)
    if total > 0:
        share = [weights[w] / total for w, _ in members]
    else:  # all members weightless: plain mean
        share = [1.0 / len(members)] * len(members)
    return Box(
        sum(s * b.x_min for s, (_, b) in zip(share, members, strict=True)),
        sum(s * b.y_min for s, (_, b) in zip(share, members, strict=True)),
        sum(s * b.x_max for s, (_, b) in zip(share, members, strict=True)),
        sum(s * b.y_max for s, (_, b) in zip(share, members, strict=True)),
        label,
    )


def _cluster_label(
    items: list[tuple[int, Box]], weights: list[float], label: str, threshold: float
) -> list[list[int]]:
    """Clusters of indices into ``items`` (worker index, box); one box per worker per cluster."""

    def centre(cluster: list[int]) -> Box:
        return _fuse([items[i] for i in cluster], weights, label)

    order = sorted(range(len(items)), key=lambda i: (-weights[items[i][0]], -items[i][1].area, i))
    clusters: list[list[int]] = []
    centres: list[Box] = []
    for i in order:
        worker, box = items[i]
        best, best_iou = -1, threshold
        for c, fused in enumerate(centres):
            if any(items[j][0] == worker for j in clusters[c]):
                continue
            overlap = iou(box, fused)
            if overlap >= best_iou:
                best, best_iou = c, overlap
        if best < 0:
            clusters.append([i])
            centres.append(box)
        else:
            clusters[best].append(i)
            centres[best] = centre(clusters[best])

    by_worker: dict[int, list[int]] = {}
    for i, (worker, _) in enumerate(items):
        by_worker.setdefault(worker, []).append(i)
    for _ in range(_MAX_REFINEMENTS):
        new_clusters: list[list[int]] = [[] for _ in centres]
        orphans: list[int] = []
        for own in by_worker.values():
            pairs = sorted(
                ((iou(items[i][1], fused), i, c) for i in own for c, fused in enumerate(centres)),
                key=lambda p: (-p[0], p[1], p[2]),
            )
            used_items: set[int] = set()
            used_clusters: set[int] = set()
            for overlap, i, c in pairs:
                if overlap < threshold:
                    break
                if i in used_items or c in used_clusters:
                    continue
                used_items.add(i)
                used_clusters.add(c)
                new_clusters[c].append(i)
            orphans += [i for i in own if i not in used_items]
        new_clusters = [sorted(c) for c in new_clusters if c] + [[i] for i in orphans]
        stable = sorted(new_clusters) == sorted(sorted(c) for c in clusters)
        clusters = new_clusters
        centres = [centre(c) for c in clusters]
        if stable:
            break
    return clusters


def _join_across_labels(
    clusters: list[list[int]],
    items: Sequence[tuple[int, Box]],
    weights: list[float],
    threshold: float,
) -> list[list[int]]:
    """Join clusters that share no worker and whose fused boxes overlap by ``threshold``, best
    overlap first: one object that workers named differently (the label is voted afterwards)."""
    groups = [list(c) for c in clusters]
    while True:
        centres = [_fuse([items[i] for i in g], weights, "") for g in groups]
        workers = [{items[i][0] for i in g} for g in groups]
        best: tuple[float, int, int] | None = None
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if workers[a] & workers[b]:
                    continue
                overlap = iou(centres[a], centres[b])
                if overlap >= threshold and (best is None or overlap > best[0]):
                    best = (overlap, a, b)
        if best is None:
            return groups
        _, a, b = best
        groups[a] = sorted(groups[a] + groups[b])
        del groups[b]


def fuse_boxes(
    answers: Sequence[tuple[str, Box]],
    workers: Iterable[str] | None = None,
    weights: Mapping[str, float] | None = None,
    *,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    min_support: float = DEFAULT_MIN_SUPPORT,
) -> ImageBoxConsensus:
    """Consensus boxes of one image from ``(worker, box)`` pairs.

    ``workers`` lists everyone who annotated the image, including those who drew no box
    (default: the workers present in ``answers``). ``weights``: worker -> skill (default 1.0).
    """
    names = list(dict.fromkeys([*(workers or ()), *(w for w, _ in answers)]))
    index = {name: i for i, name in enumerate(names)}
    worker_weights = [float((weights or {}).get(name, 1.0)) for name in names]
    if any(w < 0 for w in worker_weights):
        raise ValueError("worker weights must be non-negative")
    total = sum(worker_weights)

    by_label: dict[str, list[int]] = {}
    for a, (_, box) in enumerate(answers):
        by_label.setdefault(box.label, []).append(a)
    items = [(index[worker], box) for worker, box in answers]

    clusters: list[list[int]] = []  # indices into answers
    for label in sorted(by_label):
        positions = by_label[label]
        own = [items[a] for a in positions]
        for cluster in _cluster_label(own, worker_weights, label, iou_threshold):
            clusters.append(sorted(positions[i] for i in cluster))
    clusters = _join_across_labels(clusters, items, worker_weights, iou_threshold)

    def share(members: Sequence[tuple[int, Box]]) -> float:
        if total > 0:
            return sum(worker_weights[w] for w, _ in members) / total
        return len(members) / len(names)

    kept: list[FusedBox] = []
    rejected: list[FusedBox] = []
    kept_members: list[set[int]] = []
    kept_labels: list[dict[int, str]] = []
    matched: set[int] = set()  # indices into answers
    for cluster in clusters:
        members = [items[a] for a in cluster]
        presence = share(members)
        votes: dict[str, float] = {}
        for w, b in members:
            votes[b.label] = votes.get(b.label, 0.0) + worker_weights[w]
        label = max(sorted(votes), key=lambda name: votes[name])
        fused = _fuse(members, worker_weights, label)
        fused_box = FusedBox(
            box=fused,
            members=tuple(names[w] for w in sorted(w for w, _ in members)),
            support=share([m for m in members if m[1].label == label]),
            mean_iou=sum(iou(b, fused) for _, b in members) / len(members),
            presence=presence,
        )
        if presence + 1e-12 < min_support:
            rejected.append(fused_box)
            continue
        kept.append(fused_box)
        kept_members.append({w for w, _ in members})
        kept_labels.append({w: b.label for w, b in members})
        matched.update(cluster)

    order = sorted(
        range(len(kept)),
        key=lambda i: (kept[i].box.label, kept[i].box.y_min, kept[i].box.x_min),
    )
    kept = [kept[i] for i in order]
    kept_members = [kept_members[i] for i in order]
    kept_labels = [kept_labels[i] for i in order]
    missed = {
        name: tuple(i for i, members in enumerate(kept_members) if w not in members)
        for w, name in enumerate(names)
    }
    mislabelled = {
        name: tuple(
            i
            for i, labels in enumerate(kept_labels)
            if w in labels and labels[w] != kept[i].box.label
        )
        for w, name in enumerate(names)
    }
    extra = {
        name: tuple(
            box for a, (worker, box) in enumerate(answers) if worker == name and a not in matched
        )
        for name in names
    }
    rejected.sort(key=lambda f: (f.box.label, f.box.y_min, f.box.x_min))
    return ImageBoxConsensus(tuple(kept), missed, extra, mislabelled, tuple(rejected))


def aggregate_boxes(
    answers: Iterable[BoxAnswer],
    participants: Mapping[str, Iterable[str]] | None = None,
    weights: Mapping[str, float] | None = None,
    *,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    min_support: float = DEFAULT_MIN_SUPPORT,
) -> dict[str, ImageBoxConsensus]:
    """:func:`fuse_boxes` for every image; ``participants``: image -> workers who annotated it."""
    by_image: dict[str, list[tuple[str, Box]]] = {}
    for answer in answers:
        by_image.setdefault(answer.image, []).append((answer.worker, answer.box))
    for image in participants or {}:
        by_image.setdefault(image, [])
    return {
        image: fuse_boxes(
            pairs,
            (participants or {}).get(image),
            weights,
            iou_threshold=iou_threshold,
            min_support=min_support,
        )
        for image, pairs in by_image.items()
    }


def box_match_counts(
    drawn: Sequence[Box], truth: Sequence[Box], iou_threshold: float = DEFAULT_IOU_THRESHOLD
) -> tuple[int, int, int]:
    """``(matched, drawn, true)``: greedy one-to-one matches, same label and IoU at least
    ``iou_threshold``, best IoU first. Precision is matched / drawn, recall matched / true."""
    pairs = sorted(
        (
            (iou(a, b), i, j)
            for i, a in enumerate(drawn)
            for j, b in enumerate(truth)
            if a.label == b.label
        ),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    used_drawn: set[int] = set()
    used_truth: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < iou_threshold:
            break
        if i in used_drawn or j in used_truth:
            continue
        used_drawn.add(i)
        used_truth.add(j)
    return len(used_drawn), len(drawn), len(truth)
