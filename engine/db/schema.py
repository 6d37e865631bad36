"""Every table of the engine: the core models and each area's own model module. Migrations'
autogenerate and the drift test compare against this metadata, so a new model module must be
imported here."""

from __future__ import annotations

from engine.db import app_models, billing_models, ledger_models, payout_models, training_models
from engine.db.models import Base

MODEL_MODULES = (app_models, billing_models, ledger_models, payout_models, training_models)
metadata = Base.metadata

__all__ = ["MODEL_MODULES", "Base", "metadata"]
