"""A whole job: a long recording from the shared clips goes through split, drafts, workers'
answers (worker API), consensus, scoring and assembly; a tiled image's box across a tile border
comes back as one box in source pixels. Then delivery: listing, fetch, a retried assembly."""

from __future__ import annotations

import json
import uuid

import numpy as np
import srt
import webvtt
from jiwer import process_words

from engine.domain.text_normalization import normalize_text
from tests.conftest import manual_uow, wait_for_stage
from tests.media_samples import SPEECH, decode_mono, png_bytes, wav_bytes

RATE = 16000
PAUSES = (1.4, 1.8, 1.2, 2.0)


def _long_recording() -> tuple[bytes, str, list[tuple[float, float, str]], float]:
    """>= 2 minutes of the short clips (jfk, LibriSpeech) with pauses, and each clip's span."""
    from engine.asr.recording_eval import speech_clips

    clips = [(decode_mono(p), ref) for p, ref in speech_clips(SPEECH) if p.suffix == ".flac"]
    parts = [np.zeros(int(0.6 * RATE), np.float32)]
    spans: list[tuple[float, float, str]] = []
    t = 0.6
    i = 0
    while t < 125:
        samples, ref = clips[i % len(clips)]
        spans.append((t, t + len(samples) / RATE, ref))
        pause = PAUSES[i % len(PAUSES)]
        parts += [samples, np.zeros(int(pause * RATE), np.float32)]
        t += len(samples) / RATE + pause
        i += 1
    audio = np.concatenate(parts)
    return wav_bytes(audio), " ".join(r for *_, r in spans), spans, len(audio) / RATE


def _truth_for(task: dict, spans) -> str:  # type: ignore[no-untyped-def,type-arg]
    """What is said in a segment: the clips that lie mostly inside it."""
    out = []
    for a, b, ref in spans:
        inside = max(0.0, min(b, task["end"]) - max(a, task["start"]))
        if inside > 0.5 * (b - a):
            out.append(ref)
    return " ".join(out)


def _worker(ctx, tier="qualified"):  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    w = ctx.in_unit_of_work(register_worker, f"e2e-{uuid.uuid4().hex[:10]}", tier)
    return {"Authorization": f"Bearer {w.api_key}"}


def _answer_all(api, auth, job_id, answer_for) -> int:  # type: ignore[no-untyped-def]
    n = 0
    while (
        resp := api.post("/v1/work/next", headers=auth, json={"job_id": job_id})
    ).status_code == 200:
        lease = resp.json()
        body = {"client_answer_id": str(uuid.uuid4()), "answer": answer_for(lease)}
        assert (
            api.post(f"/v1/work/{lease['lease_id']}/submit", headers=auth, json=body).status_code
            == 201
        )
        n += 1
    return n


def _review_everything(api, ctx, job_id) -> None:  # type: ignore[no-untyped-def]
    reviewer = _worker(ctx, "reviewer")
    while (
        resp := api.post("/v1/review/next", headers=reviewer, json={"job_id": job_id})
    ).status_code == 200:
        lease = resp.json()
        body = {"client_review_id": lease["lease_id"], "decision": "accept"}
        assert (
            api.post(
                f"/v1/review/{lease['lease_id']}/submit", headers=reviewer, json=body
            ).status_code
            == 201
        )


def _deliverables(api, auth, job_id) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    from urllib.parse import urlsplit

    listing = api.get(f"/v1/jobs/{job_id}/deliverables", headers=auth)
    assert listing.status_code == 200, listing.text
    out = {}
    for item in listing.json()["items"]:
        link = urlsplit(item["url"])
        resp = api.get(f"{link.path}?{link.query}")
        assert resp.status_code == 200
        out[item["name"]] = resp.content
    return out


def test_long_recording_comes_back_as_transcript_and_subtitles(
    api, ctx, client_auth, celery_worker_process
):
    from engine.db.models import DraftRow, TaskRow
    from engine.domain.scoring import word_error_rate

    _, auth = client_auth
    audio, reference, spans, duration = _long_recording()
    assert duration >= 120
    spec = {"kind": "transcription", "overlap": 3, "gold_ratio": 0.0}
    resp = api.post("/v1/jobs", headers=auth, data={"spec": json.dumps(spec)},
                    files=[("files", ("long talk.wav", audio, "audio/wav"))])  # fmt: skip
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["id"]
    assert (
        wait_for_stage(ctx, job_id, {"labeling", "failed"}, 600, celery_worker_process)
        == "labeling"
    )
    tasks = {
        t["id"]: t
        for t in api.get(f"/v1/jobs/{job_id}/tasks", headers=auth, params={"limit": 100}).json()[
            "items"
        ]
    }
    assert len(tasks) >= 5

    truth = {tid: _truth_for(t, spans) for tid, t in tasks.items()}
    # Three workers: one exact, one who drops each segment's last word, one who mishears the first.
    _answer_all(api, _worker(ctx), job_id, lambda lease: {"text": truth[lease["task_id"]]})
    _answer_all(
        api, _worker(ctx), job_id, lambda lease: {"text": truth[lease["task_id"]].rsplit(" ", 1)[0]}
    )
    _answer_all(
        api,
        _worker(ctx),
        job_id,
        lambda lease: {"text": "uh " + truth[lease["task_id"]].split(" ", 1)[-1]},
    )
    stage = wait_for_stage(
        ctx, job_id, {"reviewing", "delivered", "failed"}, 300, celery_worker_process
    )
    if stage == "reviewing":
        _review_everything(api, ctx, job_id)
    assert (
        wait_for_stage(ctx, job_id, {"delivered", "failed"}, 300, celery_worker_process)
        == "delivered"
    )

    files = _deliverables(api, auth, job_id)
    assert {
        "long_talk.txt",
        "long_talk.srt",
        "long_talk.vtt",
        "long_talk.json",
        "report.html",
        "report.json",
    } <= set(files)
    text = files["long_talk.txt"].decode()
    # The stitched transcript is no worse than the machine draft of the worst single clip.
    with ctx.sessions() as session:
        from sqlalchemy import select

        drafts = {
            d.task_id: d.text
            for d in session.scalars(select(DraftRow).join(TaskRow).where(TaskRow.job_id == job_id))
        }
    worst_clip = max(word_error_rate(truth[t], drafts[t]) for t in truth if truth[t])
    stitched_wer = word_error_rate(reference, text)
    assert stitched_wer <= worst_clip, (stitched_wer, worst_clip)
    # No word doubled (or lost) at a cut: the alignment has no insertions and no deletions.
    measures = process_words(normalize_text(reference), normalize_text(text))
    assert measures.insertions == 0 and measures.deletions == 0, (
        measures.insertions,
        measures.deletions,
    )

    cues = list(srt.parse(files["long_talk.srt"].decode()))
    assert cues and all(c.start < c.end for c in cues)
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:], strict=False))
    assert cues[-1].end.total_seconds() <= duration + 1e-3
    vtt = webvtt.from_buffer(__import__("io").StringIO(files["long_talk.vtt"].decode()))
    assert len(vtt.captions) == len(cues)
    data = json.loads(files["long_talk.json"])
    assert data["words"] and all(
        0.0 <= w["start"] <= w["end"] <= duration + 1e-3 for w in data["words"]
    )
    report = json.loads(files["report.json"])
    assert report["job"]["id"] == job_id


def test_tiled_image_box_across_a_tile_border_is_one_source_box(
    api, ctx, client_auth, celery_worker_process, tmp_path
):
    from engine.storage.object_keys import object_key  # noqa: F401

    _, auth = client_auth
    # 3000 px wide: tiled (threshold 2048) into 1024 px tiles overlapping by 128 px.
    spec = {"kind": "image_boxes", "labels": ["car"], "overlap": 2, "gold_ratio": 0.0}
    image = [("files", ("street.png", png_bytes(3000, 900), "image/png"))]
    resp = api.post("/v1/jobs", headers=auth, data={"spec": json.dumps(spec)}, files=image)
    job_id = resp.json()["id"]
    assert (
        wait_for_stage(ctx, job_id, {"labeling", "failed"}, 120, celery_worker_process)
        == "labeling"
    )
    car = (850.0, 300.0, 400.0, 200.0)  # x 850..1250 crosses the first tile's right edge

    def answer(lease):  # type: ignore[no-untyped-def]
        tasks = {
            t["id"]: t
            for t in api.get(
                f"/v1/jobs/{job_id}/tasks", headers=auth, params={"limit": 100}
            ).json()["items"]
        }
        tx, ty, tw, th = tasks[lease["task_id"]]["box"]
        x0, y0 = max(car[0], tx), max(car[1], ty)
        x1, y1 = min(car[0] + car[2], tx + tw), min(car[1] + car[3], ty + th)
        if x1 <= x0 or y1 <= y0:
            return {"boxes": []}
        return {"boxes": [{"label": "car", "x": x0 - tx, "y": y0 - ty, "w": x1 - x0, "h": y1 - y0}]}

    _answer_all(api, _worker(ctx), job_id, answer)
    _answer_all(api, _worker(ctx), job_id, answer)
    stage = wait_for_stage(
        ctx, job_id, {"reviewing", "delivered", "failed"}, 120, celery_worker_process
    )
    if stage == "reviewing":
        _review_everything(api, ctx, job_id)
    assert (
        wait_for_stage(ctx, job_id, {"delivered", "failed"}, 120, celery_worker_process)
        == "delivered"
    )
    files = _deliverables(api, auth, job_id)
    coco = json.loads(files["dataset.coco.json"])
    boxes = [a["bbox"] for a in coco["annotations"]]
    assert len(boxes) == 1, boxes
    assert np.allclose(boxes[0], car, atol=1.0)
    assert files["yolo/street.txt"].decode().startswith("0 ")

    # A retried assembly replaces the deliverables: no duplicates.
    from engine.assembly.service import assemble_job
    from engine.domain.job_stage import JobStage
    from engine.jobs.service import move_job_to

    with manual_uow(ctx) as uow:
        move_job_to(uow, uow.jobs.get(job_id), JobStage.ASSEMBLING, "again")  # type: ignore[arg-type]
        uow.commit()
    assert assemble_job(manual_uow(ctx), ctx.store, job_id) is JobStage.DELIVERED
    again = api.get(f"/v1/jobs/{job_id}/deliverables", headers=auth).json()["items"]
    assert sorted(i["name"] for i in again) == sorted(files)
