"""Where the demo's bundled sample media are (see samples/ATTRIBUTION.md for their licences)."""

from __future__ import annotations

from pathlib import Path

# Installed as package data, so it exists in a wheel as in a checkout.
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
