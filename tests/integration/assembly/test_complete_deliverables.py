"""A delivery is complete: gold files come back with their known answer, marked as gold; a box
dataset has its YOLO data.yaml and, on request, the images; every task ends final or late; every
time the API shows carries its UTC offset."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from tests.conftest import make_client, manual_uow
from tests.media_samples import png_bytes

CAR = {"label": "car", "x": 4.0, "y": 5.0, "w": 20.0, "h": 10.0}
GOLD_CAR = {"label": "car", "x": 2.0, "y": 3.0, "w": 12.0, "h": 8.0}


def _submit(ctx, files, **spec) -> str:  # type: ignore[no-untyped-def]
    from engine.jobs.intake import IncomingFile, submit_job
    from schemas.jobs import JobSpec

    client_id, _ = make_client(ctx)
    return submit_job(
        manual_uow(ctx), ctx.store, client_id=client_id, spec=JobSpec(gold_ratio=0, **spec),
        files=[IncomingFile(n, io.BytesIO(b)) for n, b in files],
        max_upload_bytes=10**8, max_files=10,
    )  # fmt: skip


def _publish(ctx, job_id: str) -> None:  # type: ignore[no-untyped-def]
    from engine.publishing.service import begin_publishing, finish_publishing
    from engine.splitting.service import split_job

    assert split_job(manual_uow(ctx), ctx.store, job_id, ctx.tiling).value == "split"  # type: ignore[union-attr]
    assert begin_publishing(manual_uow(ctx), job_id) is not None
    finish_publishing(manual_uow(ctx), job_id, [])


def _answer(ctx, job_id: str, answer: dict[str, Any], limit: int) -> int:  # type: ignore[no-untyped-def]
    from engine.work.service import DistributionSettings, lease_next, submit
    from engine.workforce.service import register_worker

    worker_id = ctx.in_unit_of_work(register_worker, f"c-{uuid.uuid4().hex[:10]}", "qualified").id
    done = 0
    while done < limit:
        with manual_uow(ctx) as uow:
            lease = lease_next(uow, worker_id, DistributionSettings(), job_id=job_id)
            if lease is None:
                break
            submit(uow, worker_id, lease.lease_id, answer,
                   client_answer_id=str(uuid.uuid4()), time_spent_seconds=4.0)  # fmt: skip
            uow.commit()
        done += 1
    return done


def _deliver(ctx, job_id: str) -> tuple[dict[str, bytes], dict[str, str]]:  # type: ignore[no-untyped-def]
    """Score and assemble by hand; the delivered files' bytes and kinds by name."""
    from engine.assembly.service import assemble_job
    from engine.quality.service import QualitySettings, score_job

    with manual_uow(ctx) as uow:
        stage = score_job(
            uow, job_id, QualitySettings(review_threshold=0.0, review_sample_rate=0.0)
        )
        uow.commit()
    assert stage is not None and stage.value == "assembling", stage
    assert assemble_job(manual_uow(ctx), ctx.store, job_id).value == "delivered"  # type: ignore[union-attr]
    with ctx.uow() as uow:
        rows = [(r.name, r.object_key, r.kind) for r in uow.assembly.deliverables(job_id)]
    return {n: ctx.store.get_bytes(key) for n, key, _ in rows}, {n: kind for n, _, kind in rows}


def _task_counts(ctx, job_id: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with ctx.uow() as uow:
        return uow.jobs.task_counts(job_id)


def test_a_box_dataset_ships_gold_marked_data_yaml_and_the_images(ctx):
    images = {"a.png": png_bytes(60, 40), "b.png": png_bytes(64, 48, (200, 10, 10))}
    gold = png_bytes(50, 30, (0, 200, 0))
    job_id = _submit(
        ctx, [*images.items(), ("g.png", gold)], kind="image_boxes", labels=["car", "bus"],
        overlap=1, deliver_images=True, gold=[{"filename": "g.png", "boxes": [GOLD_CAR]}],
    )  # fmt: skip
    _publish(ctx, job_id)
    assert _answer(ctx, job_id, {"boxes": [CAR]}, 10) >= 2
    files, kinds = _deliver(ctx, job_id)

    data = yaml.safe_load(files["yolo/data.yaml"])
    assert data["nc"] == 2 and data["names"] == {0: "car", 1: "bus"}
    assert data["train"] == data["val"] == "."
    # The images sit beside their label files, byte for byte the uploaded ones.
    for name, content in images.items():
        assert files[f"yolo/{name}"] == content
        assert kinds[f"yolo/{name}"] == "image"
        assert files[f"yolo/{name[:-4]}.txt"].decode().startswith("0 ")
    coco = json.loads(files["dataset.coco.json"])
    assert sorted(i["file_name"] for i in coco["images"]) == ["a.png", "b.png"]

    # Gold: its known answer, in the same formats, under gold/ (and not in the client's set).
    gold_coco = json.loads(files["gold/dataset.coco.json"])
    assert [i["file_name"] for i in gold_coco["images"]] == ["g.png"]
    assert [a["bbox"] for a in gold_coco["annotations"]] == [[2.0, 3.0, 12.0, 8.0]]
    assert files["gold/yolo/g.png"] == gold
    assert "gold/yolo/data.yaml" in files
    assert {kinds[n] for n in files if n.startswith("gold/")} == {"gold"}
    report = json.loads(files["report.json"])
    assert report["gold_files"] == [{"filename": "g.png", "delivered": "gold/"}]
    assert report["images_folder"] == "yolo"

    counts = _task_counts(ctx, job_id)
    assert set(counts) == {"final"} and counts["final"] >= 3, counts


def test_images_stay_out_unless_asked_and_unfinished_tasks_end_late(ctx):
    deadline = datetime.now(UTC) + timedelta(seconds=3)
    files_in = [(f"i{i}.png", png_bytes(30 + i, 30)) for i in range(3)]
    job_id = _submit(
        ctx, files_in, kind="image_classification", labels=["cat", "dog"], overlap=2,
        deadline=deadline,
    )  # fmt: skip
    _publish(ctx, job_id)
    assert _task_counts(ctx, job_id) == {"ready": 3}
    # One worker answers two of the three images; nobody else comes before the deadline.
    assert _answer(ctx, job_id, {"label": "cat"}, 2) == 2
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.2)
    files, _ = _deliver(ctx, job_id)
    assert not any(n.startswith(("images/", "gold/")) for n in files), sorted(files)
    assert json.loads(files["report.json"])["gold_files"] == []
    assert _task_counts(ctx, job_id) == {"final": 2, "late": 1}


def test_every_api_time_carries_its_utc_offset(api, client_auth):
    _, auth = client_auth
    spec = {"kind": "image_classification", "labels": ["cat", "dog"]}
    posted = api.post("/v1/jobs", headers=auth, data={"spec": json.dumps(spec)},
                      files=[("files", ("x.png", png_bytes(20, 20), "image/png"))])  # fmt: skip
    assert posted.status_code == 201, posted.text
    got = api.get(f"/v1/jobs/{posted.json()['id']}", headers=auth).json()
    times = [posted.json()["created_at"], got["created_at"], got["updated_at"]]
    times += [event["at"] for event in got["stage_history"]]
    assert len(times) >= 4
    for text in times:
        assert datetime.fromisoformat(text).utcoffset() == timedelta(0), text


def test_naive_database_times_are_answered_as_utc() -> None:
    """SQLite (embedded mode) hands back naive datetimes; the API models add the offset."""
    from schemas.jobs import JobSummary, StageEvent

    naive = datetime(2026, 12, 1, 9, 30)
    summary = JobSummary(id="j", kind="transcription", stage="received", created_at=naive,
                         updated_at=naive).model_dump(mode="json")  # fmt: skip
    event = StageEvent(stage="received", at=naive).model_dump(mode="json")
    for text in (summary["created_at"], summary["updated_at"], event["at"]):
        assert datetime.fromisoformat(text) == naive.replace(tzinfo=UTC), text
