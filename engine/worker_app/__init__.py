"""The worker app: server-rendered pages at /app where trainees log in with a one-time code,
label, train and see their feedback and pay (docs/worker-app.md).

Kept import-light: the unit of work imports this package's repository.
"""
