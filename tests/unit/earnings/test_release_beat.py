"""The beat releases held earnings: its schedule names a task the workers register."""

from __future__ import annotations


def test_the_hold_release_runs_on_the_beat() -> None:
    import workers.pipeline  # noqa: F401  (registers the pipeline tasks)
    from workers.celery_app import app

    entry = app.conf.beat_schedule["release-held-earnings"]
    assert entry["task"] == "kazi.pipeline.release_earnings"
    assert entry["task"] in app.tasks
    assert 0 < entry["schedule"] <= 24 * 3600  # well inside a day's hold
