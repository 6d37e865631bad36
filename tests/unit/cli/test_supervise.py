"""The worker supervisor restarts a worker that exits on its own and stops when told to."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from engine.cli.supervise import supervise


def test_a_worker_that_dies_is_started_again(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    # Each run appends a line and exits 1, like a worker whose broker went away.
    cmd = [sys.executable, "-c", f"open({str(runs)!r}, 'a').write('x\\n'); raise SystemExit(1)"]
    pauses: list[float] = []
    code = supervise(cmd, sleep=pauses.append, max_restarts=3)
    assert code == 1
    assert runs.read_text().count("x") == 4  # the first run and three restarts
    assert pauses == [1.0, 2.0, 4.0]  # backing off


def test_a_signal_stops_the_worker_and_the_loop(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    cmd = [sys.executable, "-c",
           f"import time; open({str(ready)!r}, 'w').close(); time.sleep(60)"]  # fmt: skip

    def stop_when_running() -> None:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)  # what `docker stop` sends to kazi worker

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
    previous = {s: signal.getsignal(s) for s in handled}
    threading.Thread(target=stop_when_running, daemon=True).start()
    try:
        code = supervise(cmd, sleep=lambda _s: None)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert code == -signal.SIGTERM  # the child ended by the forwarded signal; no restart
