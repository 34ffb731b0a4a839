"""The Huey instance: RedisHuey with a Redis URL, SqliteHuey in the data folder without one,
in-memory and synchronous when HUEY_IMMEDIATE=true.

Results are off: pdfq keeps results in S3, so nothing in Redis grows without bound.
"""

from __future__ import annotations

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

from core.redisconn import connection_pool
from core.settings import Settings, get_settings


def make_huey(settings: Settings) -> Huey:
    """Build the queue for `settings`; opens no connection."""
    name = settings.queue_name
    if settings.immediate:
        return MemoryHuey(name, results=False, immediate=True)
    if settings.redis_url:
        return RedisHuey(name, results=False, connection_pool=connection_pool(settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, results=False, filename=str(settings.data_dir / "queue.sqlite3"))


huey = make_huey(get_settings())
