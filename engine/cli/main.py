"""The ``kazi`` console script: imports every command module so each attaches to ``app``."""

from engine.cli import (  # noqa: F401
    demo_command,
    fetch_command,
    job_commands,
    ledger_commands,
    payout_commands,
    service_commands,
    training_commands,
    worker_commands,
)
from engine.cli.app import app

for _optional in ("engine.cli.eval_asr", "engine.cli.eval_consensus"):
    # Eval commands arrive module by module; the CLI works without them.
    try:
        __import__(_optional)
    except ModuleNotFoundError as exc:
        if exc.name != _optional:
            raise

if __name__ == "__main__":
    app()
