"""A small transcription job built end to end through the API with a simulated crowd (two
careful, two average, one poor worker), low-agreement segments reviewed by an honest reviewer;
its report.html is rendered in headless Chromium to tests/artifacts/quality-report.png, and the
report's estimate is printed next to the true WER of the delivered files."""

from __future__ import annotations

import json
import random
import uuid
from urllib.parse import urlsplit

import numpy as np

from tests.conftest import SPEECH, wait_for_stage
from tests.media_samples import decode_mono, wav_bytes

RATE = 16000


def _recording(clips: list[tuple[np.ndarray, str]]) -> tuple[bytes, list[tuple[float, float, str]]]:
    parts = [np.zeros(int(0.6 * RATE), np.float32)]
    spans: list[tuple[float, float, str]] = []
    t = 0.6
    for samples, ref in clips:
        spans.append((t, t + len(samples) / RATE, ref))
        parts += [samples, np.zeros(int(1.6 * RATE), np.float32)]
        t += len(samples) / RATE + 1.6
    return wav_bytes(np.concatenate(parts)), spans


def _truth_for(task: dict, spans: list[tuple[float, float, str]]) -> str:  # type: ignore[type-arg]
    return " ".join(
        ref
        for a, b, ref in spans
        if max(0.0, min(b, task["end"]) - max(a, task["start"])) > 0.5 * (b - a)
    )


def _worker(ctx, name: str, tier: str = "qualified") -> dict[str, str]:  # type: ignore[no-untyped-def]
    from engine.workforce.service import register_worker

    w = ctx.in_unit_of_work(register_worker, f"{name}-{uuid.uuid4().hex[:4]}", tier)
    return {"Authorization": f"Bearer {w.api_key}"}


def test_report_of_a_real_job_is_honest_and_rendered(  # type: ignore[no-untyped-def]
    api, ctx, client_auth, celery_worker_process, watched_page
):
    from engine.asr.recording_eval import speech_clips
    from engine.domain.scoring import word_error_rate
    from engine.simulation.crowd_driver import simulated_answer
    from engine.simulation.error_models import default_crowd

    _, auth = client_auth
    clips = [(decode_mono(p), ref) for p, ref in speech_clips(SPEECH) if p.suffix == ".flac"]
    assert len(clips) >= 4
    files = {
        "interview one.wav": _recording(clips[: len(clips) // 2] * 2),
        "interview two.wav": _recording(clips[len(clips) // 2 :] * 2),
    }
    # Gold: single clips whose transcript is known (one task each).
    gold = {f"gold-{i}.wav": _recording([clip]) for i, clip in enumerate(clips[:4])}
    spec = {
        "kind": "transcription",
        "overlap": 3,
        "gold_ratio": 0.5,
        "gold": [{"filename": n, "text": spans[0][2]} for n, (_, spans) in gold.items()],
    }
    uploads = {**files, **gold}
    resp = api.post(
        "/v1/jobs",
        headers=auth,
        data={"spec": json.dumps(spec)},
        files=[("files", (name, audio, "audio/wav")) for name, (audio, _) in uploads.items()],
    )
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["id"]
    assert wait_for_stage(ctx, job_id, {"labeling", "failed"}, 600, celery_worker_process) == (
        "labeling"
    )
    with ctx.uow() as uow:
        source_of = {s.id: s.filename for s in uow.assembly.sources(job_id)}
        tasks = {
            t.id: {"start": t.start_seconds or 0.0, "end": t.end_seconds or 0.0}
            for sid in source_of
            for t in uow.assembly.tasks_of_source(sid)
        }
        task_source = {
            t.id: source_of[t.source_id]
            for sid in source_of
            for t in uow.assembly.tasks_of_source(sid)
        }
    truth = {tid: _truth_for(t, uploads[task_source[tid]][1]) for tid, t in tasks.items()}

    # The crowd takes turns, one task each, so that every worker answers some of everything.
    rng = random.Random(12)
    crowd = [(p, _worker(ctx, p.handle, p.tier)) for p in default_crowd(12)]
    active = list(crowd)
    while active:
        for profile, worker_auth in list(active):
            resp = api.post("/v1/work/next", headers=worker_auth, json={"job_id": job_id})
            if resp.status_code != 200:
                active.remove((profile, worker_auth))
                continue
            lease = resp.json()
            draft = lease.get("draft")
            answer = simulated_answer(
                "transcription", {"text": truth[lease["task_id"]]}, profile, rng,
                draft=draft.get("text") if isinstance(draft, dict) else None,
            )  # fmt: skip
            body = {"client_answer_id": str(uuid.uuid4()), "answer": answer}
            submitted = api.post(
                f"/v1/work/{lease['lease_id']}/submit", headers=worker_auth, json=body
            )
            assert submitted.status_code == 201, submitted.text
    stage = wait_for_stage(
        ctx, job_id, {"reviewing", "delivered", "failed"}, 300, celery_worker_process
    )
    if stage == "reviewing":  # an honest reviewer: writes the truth when the consensus is off
        reviewer = _worker(ctx, "reviewer", "reviewer")
        while (
            resp := api.post("/v1/review/next", headers=reviewer, json={"job_id": job_id})
        ).status_code == 200:
            lease = resp.json()
            text = truth[lease["task_id"]]
            body: dict[str, object] = {"client_review_id": lease["lease_id"], "decision": "accept"}
            if text.strip():
                body.update(decision="correct", answer={"text": text})
            resp = api.post(f"/v1/review/{lease['lease_id']}/submit", headers=reviewer, json=body)
            assert resp.status_code == 201, resp.text
    assert wait_for_stage(ctx, job_id, {"delivered", "failed"}, 300, celery_worker_process) == (
        "delivered"
    )

    listing = api.get(f"/v1/jobs/{job_id}/deliverables", headers=auth).json()["items"]
    delivered = {}
    for item in listing:
        link = urlsplit(item["url"])
        delivered[item["name"]] = api.get(f"{link.path}?{link.query}").content
    report = json.loads(delivered["report.json"])
    html = delivered["report.html"].decode()

    # The truth the report cannot see: each delivered file's WER and the share of right segments.
    with ctx.uow() as uow:
        finals = {t: r.final for t, r in uow.assembly.results(job_id).items()}
    right = [
        word_error_rate(truth[t], str(final.get("text", ""))) <= 0.05
        for t, final in finals.items()
        if final is not None and t in truth and truth[t].strip()
    ]
    true_accuracy = sum(right) / len(right)
    estimate = report["estimated_accuracy"]
    print(
        f"\nestimated accuracy {estimate['value']:.3f} "
        f"(95 % interval {estimate['low']:.3f}–{estimate['high']:.3f}, headline "
        f"{estimate['headline']}), true share of right segments {true_accuracy:.3f}"
    )
    print("gold", report["gold"], estimate["gold_checks"], estimate["checked_tasks"], len(tasks))
    for source in report["sources"]:
        stem = source["name"].rsplit(".", 1)[0].replace(" ", "_")
        text = delivered[f"{stem}.txt"].decode()
        reference = " ".join(ref for *_, ref in files[source["name"]][1])
        print(
            f"{source['name']}: true WER {word_error_rate(reference, text):.3f}; report: "
            f"estimated WER {source['wer']['estimated_delivered_wer']}, consensus WER on "
            f"{source['wer']['checked_segments']} reviewed segments "
            f"{source['wer']['consensus_wer_on_checked']}"
        )
    print("workers:", [(w["worker"], w["agreement_with_final"], w["checked_score"])
                       for w in report["workers"]])  # fmt: skip
    # Measured against known truth, a careful worker does not come last.
    scored = {w["worker"]: w["checked_score"] for w in report["workers"] if w["checked_score"]}
    if len(scored) >= 2:
        last = min(scored, key=scored.__getitem__)
        assert "careful" not in last, scored

    assert estimate["low"] <= true_accuracy <= estimate["high"]
    if estimate["headline"] is None:
        assert estimate["high"] - estimate["low"] > 0.10 and estimate["needed"]
        assert "not enough evidence" in html
    else:
        assert estimate["high"] - estimate["low"] <= 0.10
    assert {s["name"] for s in report["sources"]} == set(files)
    assert all(s["worst"] for s in report["sources"])
    assert report["job"]["client"] and report["job"]["turnaround"]
    assert "interview%20one.wav#t=" in html and "[]" not in html

    watched_page.page.set_content(html, wait_until="load")
    assert watched_page.page.locator("h1").inner_text().startswith("Quality report")
    path = watched_page.screenshot("quality-report.png", full_page=True)
    assert path.exists() and path.stat().st_size > 10_000


def test_report_of_a_box_job_ranks_workers_as_the_truth_does(  # type: ignore[no-untyped-def]
    api, ctx, client_auth, celery_worker_process
):
    from engine.simulation.crowd_driver import simulated_answer
    from engine.simulation.error_models import default_crowd
    from tests.media_samples import png_bytes

    _, auth = client_auth
    labels = ["car", "person", "dog"]
    rng = random.Random(5)
    truth_of_file: dict[str, list[dict[str, object]]] = {}
    for i in range(12):
        boxes = []
        for _ in range(rng.randint(1, 3)):
            w, h = rng.uniform(60, 160), rng.uniform(60, 160)
            boxes.append({"label": rng.choice(labels), "x": rng.uniform(0, 640 - w),
                          "y": rng.uniform(0, 480 - h), "w": w, "h": h})  # fmt: skip
        truth_of_file[f"street-{i}.png"] = boxes
    spec = {"kind": "image_boxes", "labels": labels, "overlap": 3, "gold_ratio": 0.0}
    resp = api.post(
        "/v1/jobs",
        headers=auth,
        data={"spec": json.dumps(spec)},
        files=[
            ("files", (n, png_bytes(640, 480, (20 * i, 120, 200)), "image/png"))
            for i, n in enumerate(truth_of_file)
        ],
    )
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["id"]
    assert wait_for_stage(ctx, job_id, {"labeling", "failed"}, 300, celery_worker_process) == (
        "labeling"
    )
    with ctx.uow() as uow:
        source_of = {s.id: s.filename for s in uow.assembly.sources(job_id)}
        truth = {
            t.id: truth_of_file[source_of[t.source_id]]
            for sid in source_of
            for t in uow.assembly.tasks_of_source(sid)
        }
    crowd = [(p, _worker(ctx, p.handle)) for p in default_crowd(3)]
    active = list(crowd)
    while active:
        for profile, worker_auth in list(active):
            resp = api.post("/v1/work/next", headers=worker_auth, json={"job_id": job_id})
            if resp.status_code != 200:
                active.remove((profile, worker_auth))
                continue
            lease = resp.json()
            answer = simulated_answer(
                "image_boxes", {"boxes": truth[lease["task_id"]]}, profile, rng,
                labels=labels, image_size=(lease["width"], lease["height"]),
            )  # fmt: skip
            body = {"client_answer_id": str(uuid.uuid4()), "answer": answer}
            submitted = api.post(
                f"/v1/work/{lease['lease_id']}/submit", headers=worker_auth, json=body
            )
            assert submitted.status_code == 201, submitted.text
    stage = wait_for_stage(
        ctx, job_id, {"reviewing", "delivered", "failed"}, 300, celery_worker_process
    )
    if stage == "reviewing":
        reviewer = _worker(ctx, "reviewer", "reviewer")
        while (
            resp := api.post("/v1/review/next", headers=reviewer, json={"job_id": job_id})
        ).status_code == 200:
            lease = resp.json()
            body = {"client_review_id": lease["lease_id"], "decision": "correct",
                    "answer": {"boxes": truth[lease["task_id"]]}}  # fmt: skip
            resp = api.post(f"/v1/review/{lease['lease_id']}/submit", headers=reviewer, json=body)
            assert resp.status_code == 201, resp.text
    assert wait_for_stage(ctx, job_id, {"delivered", "failed"}, 300, celery_worker_process) == (
        "delivered"
    )
    listing = api.get(f"/v1/jobs/{job_id}/deliverables", headers=auth).json()["items"]
    by_name = {i["name"]: urlsplit(i["url"]) for i in listing}
    report = json.loads(
        api.get(f"{by_name['report.json'].path}?{by_name['report.json'].query}").content
    )
    html = api.get(f"{by_name['report.html'].path}?{by_name['report.html'].query}").text

    agreement = {w["worker"]: w["agreement_with_final"] for w in report["workers"]}
    estimate = report["estimated_accuracy"]
    print("\nbox job workers:", agreement, estimate["low"], estimate["high"],
          [s.get("boxes") for s in report["sources"]])  # fmt: skip
    assert "careful" not in min(agreement, key=lambda w: agreement[w] or 0.0)
    assert "poor" in min(agreement, key=lambda w: agreement[w] or 0.0)
    assert report["draft_vs_final"] is None
    assert "Machine draft" not in html and "WER" not in html and "[]" not in html
