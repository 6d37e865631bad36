"""Every table of the engine: the core models and each area's own model module. Migrations'
autogenerate and the drift test compare against this metadata, so a new model module must be
imported here."""

from __future__ import annotations

from engine.db import billing_models, ledger_models, payout_models
from engine.db.models import Base

MODEL_MODULES = (billing_models, ledger_models, payout_models)
metadata = Base.metadata

__all__ = ["MODEL_MODULES", "Base", "metadata"]
