"""Earnings: rules applied when a task is final, hold release, disputes, the worker view."""
