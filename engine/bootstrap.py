"""Wire settings to adapters once per process: database sessions and the object store."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from engine.db.migrate import upgrade_database
from engine.db.session import get_sessionmaker
from engine.settings import Settings, get_settings
from engine.splitting.service import TilingSettings
from engine.storage.factory import build_object_store
from engine.storage.object_store import ObjectStore


@dataclass(frozen=True)
class EngineContext:
    settings: Settings
    sessions: sessionmaker[Session]
    store: ObjectStore

    @property
    def tiling(self) -> TilingSettings:
        s = self.settings
        return TilingSettings(
            s.tile_threshold_px, s.tile_size_px, s.tile_overlap_px, s.max_image_pixels
        )


def build_context(settings: Settings, *, migrate: bool = True) -> EngineContext:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    if migrate:
        upgrade_database(url)
    store = build_object_store(settings)
    store.ensure_ready()
    sessions = get_sessionmaker(url, settings.db_pool_size)
    return EngineContext(settings=settings, sessions=sessions, store=store)


@lru_cache
def get_context() -> EngineContext:
    return build_context(get_settings())
