"""The broker a `copyforge worker` process consumes (taskiq imports `app.worker:broker`).

Each worker process imports this module, so each has its own database engine and handlers.
"""

from app.config import get_settings
from app.db import Database
from app.llm.registry import ModelRegistry
from app.tasks import create_jobs

_settings = get_settings()
if _settings.job_broker_url is None:
    raise SystemExit(
        "copyforge worker needs COPYFORGE_JOB_BROKER_URL (e.g. redis://127.0.0.1:6379/0): "
        "without it, jobs run inside `copyforge serve` and there is nothing to take from."
    )
# Models load on first use: a worker that only runs offline analysis never loads one.
jobs = create_jobs(_settings, Database(_settings), ModelRegistry.from_settings(_settings))
broker = jobs.broker
