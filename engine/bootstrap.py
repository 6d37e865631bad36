"""Wire settings to adapters once per process: database sessions and the object store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from engine.db.migrate import upgrade_database
from engine.db.session import get_sessionmaker
from engine.pipeline.task_queue import CeleryTaskQueue, TaskQueue
from engine.secrets import resolve_secrets
from engine.settings import Settings, get_settings
from engine.splitting.service import TilingSettings
from engine.storage.factory import build_object_store
from engine.storage.object_store import ObjectStore
from engine.unit_of_work import SqlAlchemyUnitOfWork
from engine.workforce.token_cipher import TokenCipher

T = TypeVar("T")


@dataclass(frozen=True)
class EngineContext:
    settings: Settings
    sessions: sessionmaker[Session]
    store: ObjectStore
    queue: TaskQueue

    def uow(self) -> SqlAlchemyUnitOfWork:
        """A new unit of work; its commits relay their outbox rows to the broker."""
        return SqlAlchemyUnitOfWork(self.sessions, self.queue)

    def in_unit_of_work(self, use_case: Callable[..., T], *args: Any) -> T:
        """Run ``use_case(uow, *args)`` in one unit of work that commits when it returns and
        rolls back when it raises (the one commit of an entrypoint)."""
        with self.uow() as uow:
            result = use_case(uow, *args)
            uow.commit()
            return result

    @property
    def token_cipher(self) -> TokenCipher:
        """Seals and opens Label Studio worker tokens with the data key."""
        return TokenCipher.from_settings(self.settings)

    @property
    def tiling(self) -> TilingSettings:
        s = self.settings
        return TilingSettings(
            s.tile_threshold_px, s.tile_size_px, s.tile_overlap_px, s.max_image_pixels
        )


def build_context(settings: Settings, *, migrate: bool = True) -> EngineContext:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    # Nothing signs with a default: refused outside embedded mode, generated inside it.
    settings = resolve_secrets(settings)
    url = settings.resolved_database_url()
    if migrate:
        upgrade_database(url)
    store = build_object_store(settings)
    store.ensure_ready()
    sessions = get_sessionmaker(url, settings.db_pool_size)
    queue = CeleryTaskQueue(settings)
    return EngineContext(settings=settings, sessions=sessions, store=store, queue=queue)


@lru_cache
def get_context() -> EngineContext:
    return build_context(get_settings())
