"""Bounding-box consensus: cluster workers' boxes per image and label, fuse, keep supported ones.

Per image and label:

1. Cluster by IoU. Boxes are taken in order of their worker's weight (then larger first) and
   join the cluster whose fused box they overlap most (IoU >= ``iou_threshold``) among the
   clusters that worker has not joined yet; otherwise they open a new cluster. Then, until
   stable, every worker's boxes are re-matched one-to-one to the fused boxes (best IoU first),
   so that the greedy first pass does not leave a box in a worse cluster.
2. Fuse each cluster: coordinates are the skill-weighted mean of its members' coordinates.
3. Keep a cluster when its members' weight is at least ``min_support`` of the total weight of
   the workers who annotated the image (drawing no box is a vote for "no box").

Each fused box reports its members, ``support`` (that weight fraction) and ``mean_iou`` (mean
IoU of the members to the fused box). Each worker gets the fused boxes they missed and their
boxes that ended up in no kept cluster (extra boxes).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class ImageBoxConsensus:
    """Kept boxes of one image, plus per worker the indices of kept boxes they missed and
    the boxes they drew that match no kept box."""

    boxes: tuple[FusedBox, ...]
    missed: dict[str, tuple[int, ...]]
    extra: dict[str, tuple[Box, ...]]


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

    kept: list[FusedBox] = []
    kept_members: list[set[int]] = []
    matched: set[int] = set()  # indices into answers
    for label in sorted(by_label):
        positions = by_label[label]
        items = [(index[answers[a][0]], answers[a][1]) for a in positions]
        for cluster in _cluster_label(items, worker_weights, label, iou_threshold):
            members = [items[i] for i in cluster]
            weight = sum(worker_weights[w] for w, _ in members)
            support = weight / total if total > 0 else len(members) / len(names)
            if support + 1e-12 < min_support:
                continue
            fused = _fuse(members, worker_weights, label)
            kept.append(
                FusedBox(
                    box=fused,
                    members=tuple(names[w] for w in sorted(w for w, _ in members)),
                    support=support,
                    mean_iou=sum(iou(b, fused) for _, b in members) / len(members),
                )
            )
            kept_members.append({w for w, _ in members})
            matched.update(positions[i] for i in cluster)

    order = sorted(
        range(len(kept)),
        key=lambda i: (kept[i].box.label, kept[i].box.y_min, kept[i].box.x_min),
    )
    kept = [kept[i] for i in order]
    kept_members = [kept_members[i] for i in order]
    missed = {
        name: tuple(i for i, members in enumerate(kept_members) if w not in members)
        for w, name in enumerate(names)
    }
    extra = {
        name: tuple(
            box for a, (worker, box) in enumerate(answers) if worker == name and a not in matched
        )
        for name in names
    }
    return ImageBoxConsensus(tuple(kept), missed, extra)


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
