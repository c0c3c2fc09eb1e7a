"""Which service function runs each kind of job: the job seam's wiring, shared by the server
(app/main.py) and `copyforge worker` (app/worker.py)."""

from app.config import Settings
from app.db import Database
from app.insight import service as insight
from app.jobs import Jobs, Lease
from app.llm.registry import ModelRegistry
from app.models import Job


def create_jobs(settings: Settings, database: Database, registry: ModelRegistry) -> Jobs:
    """The process's job seam, with every handler registered."""
    jobs = Jobs(settings, database)

    async def analyse(database: Database, job: Job, lease: Lease) -> None:
        await insight.analyse_import(database, registry, job, lease)

    jobs.handle(insight.ANALYSE_JOB, analyse)
    return jobs
