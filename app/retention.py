"""Retention: purge generations older than COPYFORGE_RETENTION_DAYS, hourly while serving."""

import asyncio
import logging

from app.db import Database
from app.history.service import purge_older_than

logger = logging.getLogger("copyforge.retention")
PURGE_INTERVAL_S = 3600.0


async def purge_once(database: Database, days: int) -> int:
    """Erase generations older than `days` days; returns how many."""
    async with database.write_sessions() as session:
        erased = await purge_older_than(session, days=days)
        await session.commit()
    if erased:
        logger.info("retention: erased %d generations older than %d days", erased, days)
    return erased


async def purge_forever(database: Database, days: int) -> None:
    """Purge now and then every hour until cancelled (at shutdown)."""
    while True:
        try:
            await purge_once(database, days)
        except Exception:  # a failed purge must not stop the next one
            logger.exception("retention purge failed")
        await asyncio.sleep(PURGE_INTERVAL_S)
