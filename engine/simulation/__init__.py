"""Simulated trainee workers: error models (pure), drivers that answer through the real APIs,
and a box job run in memory through the engine's scoring code (box_job, pure)."""
