"""The job seam: work off the request path, carried by taskiq.

By default the broker is taskiq's in-memory one: tasks run inside the server's own process and
there is nothing else to start. With `COPYFORGE_JOB_BROKER_URL=redis://...` tasks go through
Redis (taskiq-redis) and `copyforge worker` processes, here or on other machines, run them.

Either way the state of record is copyforge's `job` table, not the broker: a service adds a
`job` row in its own transaction and the task is sent once that commits; a task first claims
its row (queued, or running with a lapsed lease), renews the lease as it goes, and marks it
finished. A sweep sends again every job that is queued or whose lease lapsed (its process
died), so a restart resumes what was not finished. A job may therefore run more than once,
and its handler must be idempotent: the work it stores is keyed so that a second run adds
nothing.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends

from app.config import Settings
from app.db import Database
from app.models import Job, utcnow

logger = logging.getLogger("copyforge.jobs")

TASK_NAME = "copyforge.run_job"
# A job that failed this many times is given up on, with its last error.
MAX_ATTEMPTS = 5


class Lease:
    """A running job's claim on its row: `renew()` after each step keeps it."""

    def __init__(self, database: Database, job_id: str) -> None:
        self._database, self.job_id = database, job_id

    async def renew(self) -> None:
        """Tell other processes this job is still alive."""
        async with self._database.write_sessions.begin() as session:
            await session.execute(
                update(Job).where(Job.id == self.job_id).values(updated_at=utcnow())
            )


Handler = Callable[[Database, Job, Lease], Awaitable[None]]


class Jobs:
    """Submits jobs and runs them with the handlers registered by name."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.database = database
        self.lease = timedelta(seconds=settings.job_lease_s)
        self.handlers: dict[str, Handler] = {}
        self.broker = _broker(settings.job_broker_url, settings.job_queue)
        self.broker.state.jobs = self
        self._task = self.broker.register_task(_run_job, task_name=TASK_NAME)
        self._kicks: set[asyncio.Task[Any]] = set()
        # Jobs this process is running: shutdown lets them finish a while, then cancels them
        # (their rows resume them elsewhere or after the restart).
        self._running: set[asyncio.Task[Any]] = set()

    def handle(self, name: str, handler: Handler) -> None:
        """Run `handler` for jobs called `name`."""
        self.handlers[name] = handler

    def submit(self, session: AsyncSession, *, workspace_id: str, name: str, **payload: Any) -> Job:
        """Add a job to the session's transaction; its task is sent once that commits."""
        job = Job(workspace_id=workspace_id, name=name, payload_json=payload, status="queued")
        session.add(job)

        def after_commit(_session: Any) -> None:
            self._kick_soon(job.id)

        # The task must not run before the row it claims is visible to other connections.
        event.listen(session.sync_session, "after_commit", after_commit, once=True)
        return job

    def _kick_soon(self, job_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._kick(job_id))
        self._kicks.add(task)
        task.add_done_callback(self._kicks.discard)

    async def _kick(self, job_id: str) -> None:
        try:
            await self._task.kiq(job_id)
        except Exception:  # the broker is down: the sweep sends it again later
            logger.exception("could not send job %s", job_id)

    async def sweep(self) -> int:
        """Send again every job that is queued or whose lease lapsed; how many."""
        now = utcnow()
        async with self.database.read_sessions() as session:
            ids = await session.scalars(
                select(Job.id).where(
                    or_(
                        (Job.status == "queued") & (Job.updated_at < now - self.lease / 4),
                        (Job.status == "running") & (Job.updated_at < now - self.lease),
                    )
                )
            )
            stale = list(ids)
        for job_id in stale:
            await self._kick(job_id)
        return len(stale)

    async def sweep_forever(self) -> None:
        """Sweep at a quarter of the lease, until cancelled."""
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("job sweep failed")
            await asyncio.sleep(self.lease.total_seconds() / 4)

    async def run(self, job_id: str) -> None:
        """Claim the job, run its handler, and record how it ended."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        job = await self._claim(job_id)
        if job is None:
            return  # finished already, or another process holds it
        handler = self.handlers.get(job.name)
        try:
            if handler is None:
                raise LookupError(f"no handler for jobs called {job.name!r}")
            await handler(self.database, job, Lease(self.database, job.id))
        except Exception as exc:
            logger.exception("job %s (%s) failed", job.id, job.name)
            given_up = job.attempts >= MAX_ATTEMPTS
            await self._finish(
                job.id, "failed" if given_up else "queued", f"{type(exc).__name__}: {exc}"
            )
        else:
            await self._finish(job.id, "succeeded", None)

    async def _claim(self, job_id: str) -> Job | None:
        now = utcnow()
        async with self.database.write_sessions.begin() as session:
            claimed = await session.execute(
                update(Job)
                .where(
                    Job.id == job_id,
                    or_(
                        Job.status == "queued",
                        (Job.status == "running") & (Job.updated_at < now - self.lease),
                    ),
                )
                .values(status="running", attempts=Job.attempts + 1, updated_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return await session.get(Job, job_id)

    async def _finish(self, job_id: str, status: str, error: str | None) -> None:
        now = utcnow()
        finished = now if status in ("succeeded", "failed") else None
        async with self.database.write_sessions.begin() as session:
            await session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status=status, error=error, updated_at=now, finished_at=finished)
            )

    async def startup(self) -> None:
        """Connect the broker (in-memory: nothing to connect)."""
        await self.broker.startup()

    async def shutdown(self, timeout_s: float = 10) -> None:
        """Let sent tasks go and running jobs finish (cancelled after `timeout_s`: they
        resume from their rows), then disconnect."""
        if self._kicks:
            await asyncio.wait(self._kicks, timeout=5)
        if self._running:
            _, pending = await asyncio.wait(self._running, timeout=timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        await self.broker.shutdown()


def _broker(url: str | None, queue: str) -> AsyncBroker:
    if url is None:
        return InMemoryBroker()
    # Imported only when asked for: the redis extra is not needed on one machine.
    from taskiq_redis import ListQueueBroker

    # A worker waits on BRPOP with no time limit; redis-py 8 times reads out after 5 s by
    # default, which would end the wait with an error. Keepalive finds a dead connection.
    return ListQueueBroker(url, queue_name=queue, socket_timeout=None, socket_keepalive=True)


async def _run_job(job_id: str, context: Context = TaskiqDepends()) -> None:  # noqa: B008
    jobs: Jobs = context.state.jobs
    await jobs.run(job_id)
