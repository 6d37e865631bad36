"""A box job end to end on the real database, with simulated workers of known error rates
and images of known boxes: the report's worker agreement ranks them as their error rates do,
and its box figures agree with the truth (issue 12). Stages are driven by hand: no broker."""

from __future__ import annotations

import io
import json
import random
import uuid
from typing import Any

from engine.simulation.box_job import all_boxes_right, boxes_of, random_box_tasks
from engine.simulation.error_models import WorkerProfile, noisy_boxes
from tests.conftest import make_client, manual_uow
from tests.media_samples import png_bytes

LABELS = ["circle", "square", "triangle"]
WIDTH, HEIGHT = 800, 600
SETTINGS_REVIEW_THRESHOLD = 0.75


def _profile(handle: str, label_errors: float, jitter: float, miss: float, extra: float):  # type: ignore[no-untyped-def]
    return WorkerProfile(handle, "trainee", 0.0, label_errors, jitter, miss, extra, 20.0)


CROWD = {
    "careful": _profile("careful", 0.05, 0.02, 0.02, 0.01),
    "average": _profile("average", 0.12, 0.06, 0.05, 0.03),
    "sloppy": _profile("sloppy", 0.30, 0.15, 0.20, 0.15),
    "spammer": _profile("spammer", 0.50, 0.60, 0.50, 0.90),
}


def _submit(ctx, images: dict[str, bytes], gold: list[dict[str, Any]]) -> str:  # type: ignore[no-untyped-def]
    from engine.jobs.intake import IncomingFile, submit_job
    from schemas.jobs import JobSpec

    client_id, _ = make_client(ctx)
    spec = JobSpec(kind="image_boxes", labels=LABELS, overlap=4, gold_ratio=0.2, gold=gold)  # type: ignore[arg-type]
    return submit_job(
        manual_uow(ctx), ctx.store, client_id=client_id, spec=spec,
        files=[IncomingFile(n, io.BytesIO(b)) for n, b in images.items()],
        max_upload_bytes=10**8, max_files=100,
    )  # fmt: skip


def _publish(ctx, job_id: str) -> None:  # type: ignore[no-untyped-def]
    from engine.publishing.service import begin_publishing, finish_publishing
    from engine.splitting.service import split_job

    assert split_job(manual_uow(ctx), ctx.store, job_id, ctx.tiling).value == "split"  # type: ignore[union-attr]
    assert begin_publishing(manual_uow(ctx), job_id) is not None
    finish_publishing(manual_uow(ctx), job_id, [])


def _crowd_answers(
    ctx,  # type: ignore[no-untyped-def]
    job_id: str,
    file_of_task: dict[str, str],
    truth_of_file: dict[str, dict[str, Any]],
) -> dict[str, str]:
    """Workers take turns leasing and answering until none gets work; handle -> worker id.
    Every worker answers every image (overlap 4), each answer seeded by image and worker, so
    the answers do not depend on the order the tasks are leased in (task ids are random)."""
    from engine.work.service import DistributionSettings, lease_next, submit
    from engine.workforce.service import register_worker

    ids = {
        handle: ctx.in_unit_of_work(
            register_worker, f"{handle}-{uuid.uuid4().hex[:8]}", "trainee"
        ).id
        for handle in CROWD
    }
    draws = {handle: random.Random(handle).random for handle in CROWD}  # gold or not
    working = set(CROWD)
    while working:
        for handle in sorted(working):
            with manual_uow(ctx) as uow:
                lease = lease_next(uow, ids[handle], DistributionSettings(), job_id=job_id,
                                   draw=draws[handle])  # fmt: skip
                if lease is None:
                    working.discard(handle)
                    continue
                name = file_of_task[lease.task_id]
                drawn = noisy_boxes(truth_of_file[name]["boxes"], WIDTH, HEIGHT, CROWD[handle],
                                    random.Random(f"{name}/{handle}"), labels=LABELS)  # fmt: skip
                submit(uow, ids[handle], lease.lease_id, {"boxes": drawn},
                       client_answer_id=str(uuid.uuid4()), time_spent_seconds=20.0)  # fmt: skip
                uow.commit()
    return ids


def _review(ctx, job_id: str, truth_of_task: dict[str, dict], settings) -> int:  # type: ignore[no-untyped-def,type-arg]
    """A careful reviewer: accepts a right result, corrects a wrong one with the truth."""
    from engine.quality.review import finish_review, lease_review, submit_review
    from engine.workforce.service import register_worker

    reviewer = ctx.in_unit_of_work(register_worker, f"rev-{uuid.uuid4().hex[:8]}", "reviewer").id
    reviewed = 0
    while True:
        with manual_uow(ctx) as uow:
            lease = lease_review(uow, reviewer, settings, job_id)
            if lease is None:
                break
            truth = truth_of_task[lease.task_id]
            right = all_boxes_right(lease.consensus, truth)
            submit_review(uow, reviewer, lease.lease_id, "accept" if right else "correct",
                          None if right else truth, client_review_id=str(uuid.uuid4()))  # fmt: skip
            uow.commit()
        reviewed += 1
    with manual_uow(ctx) as uow:
        assert finish_review(uow, job_id) is not None
        uow.commit()
    return reviewed


def test_box_job_worker_agreement_and_box_figures_match_the_truth(ctx):  # type: ignore[no-untyped-def]
    from engine.assembly.service import assemble_job
    from engine.quality.service import QualitySettings, score_job

    rng = random.Random(12)
    tasks = random_box_tasks(rng, 40, LABELS, gold=4, width=WIDTH, height=HEIGHT)
    truth_of_file = {f"{t.task_id}.png": {"boxes": list(t.truth)} for t in tasks}
    # Distinct bytes per image: identical uploads would be one source.
    images = {name: png_bytes(WIDTH, HEIGHT, (i, 120, 200)) for i, name in enumerate(truth_of_file)}
    gold = [{"filename": f"{t.task_id}.png", "boxes": list(t.truth)} for t in tasks if t.is_gold]
    job_id = _submit(ctx, images, gold)
    _publish(ctx, job_id)
    with ctx.uow() as uow:
        file_of_task = {t.id: s.filename for t, s in uow.jobs.tasks_page(job_id, 1000, 0)}
    assert len(file_of_task) == 40  # one task per image (none is tiled)
    truth_of_task = {t: truth_of_file[name] for t, name in file_of_task.items()}
    _crowd_answers(ctx, job_id, file_of_task, truth_of_file)

    settings = QualitySettings(review_threshold=SETTINGS_REVIEW_THRESHOLD, review_sample_rate=0.0)
    with manual_uow(ctx) as uow:
        stage = score_job(uow, job_id, settings)
        uow.commit()
    assert stage is not None and stage.value == "reviewing", stage
    reviewed = _review(ctx, job_id, truth_of_task, settings)
    assert reviewed > 0
    assert assemble_job(manual_uow(ctx), ctx.store, job_id).value == "delivered"  # type: ignore[union-attr]
    with ctx.uow() as uow:
        files = {
            r.name: ctx.store.get_bytes(r.object_key) for r in uow.assembly.deliverables(job_id)
        }
    report = json.loads(files["report.json"])

    # (a) Agreement with what was delivered ranks the workers as their error rates do.
    agreement = {
        row["worker"].split("-")[0]: row["agreement_with_final"] for row in report["workers"]
    }
    answers = {row["worker"].split("-")[0]: row["answers"] for row in report["workers"]}
    assert set(answers.values()) == {40}, answers  # every image, gold included
    assert sorted(agreement, key=agreement.__getitem__, reverse=True) == [
        "careful", "average", "sloppy", "spammer",
    ], agreement  # fmt: skip

    # (b) The delivered boxes against the drawn truth, and the report's figures on them.
    coco = json.loads(files["dataset.coco.json"])
    names = {c["id"]: c["name"] for c in coco["categories"]}
    delivered: dict[str, list[dict[str, Any]]] = {i["file_name"]: [] for i in coco["images"]}
    file_of = {i["id"]: i["file_name"] for i in coco["images"]}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        delivered[file_of[a["image_id"]]].append(
            {"label": names[a["category_id"]], "x": x, "y": y, "w": w, "h": h}
        )
    assert len(delivered) == 36  # gold images are delivered apart, under gold/
    from engine.domain.box_consensus import box_match_counts

    matched = drawn = true = right = 0
    for name, boxes in delivered.items():
        m, d, t = box_match_counts(boxes_of({"boxes": boxes}), boxes_of(truth_of_file[name]))
        matched, drawn, true = matched + m, drawn + d, true + t
        right += all_boxes_right({"boxes": boxes}, truth_of_file[name])
    assert matched / drawn >= 0.95 and matched / true >= 0.95, (matched, drawn, true)
    checked = sum(s["boxes"]["checked_tasks"] for s in report["sources"])
    assert checked == reviewed == report["estimated_accuracy"]["reviewed"]
    assert report["draft_vs_final"] is None

    # (c) The estimate never claims more than was delivered: the true share of right images
    # is not under its interval (and the headline is withheld while the interval is wide).
    estimate = report["estimated_accuracy"]
    true_share = right / len(delivered)
    assert estimate["low"] <= true_share, (estimate, true_share)
    if estimate["high"] - estimate["low"] > estimate["max_width"]:
        assert estimate["headline"] is None
