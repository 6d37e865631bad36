"""Label Studio tests use the session fixture ``label_studio`` from ``tests/conftest.py``."""
