"""Simulated trainee workers: error models (pure) and drivers that answer through the real APIs."""
