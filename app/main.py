"""create_app(): settings, database, templates, models, middleware, routes, error handlers."""

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app import __version__, metrics
from app.auth.limits import create_limiter
from app.auth.principal import Authenticator
from app.config import Settings, get_settings
from app.db import Database
from app.docs_pages import install_docs
from app.error_handlers import install_error_handlers
from app.experiments.event_store import EventStore
from app.experiments.router import router as experiments_router
from app.experiments.score_service import Scorers
from app.experiments.serving import ExperimentServer
from app.generation.router import write_router
from app.generation.store import GenerationStore
from app.generation.streaming import BackgroundWrites
from app.history.router import router as history_router
from app.insight.router import IMPORT_PATH as REVIEW_IMPORT_PATH
from app.insight.router import router as insight_router
from app.kinds import KINDS
from app.knowledge.router import IMPORT_PATH
from app.knowledge.router import router as knowledge_router
from app.lint.router import router as lint_router
from app.llm.registry import ModelRegistry
from app.middleware import BodySizeLimitMiddleware, MetricsMiddleware, RequestIdMiddleware
from app.prompting import PromptLibrary
from app.ratings.router import router as ratings_router
from app.retention import purge_forever
from app.system_router import router as system_router
from app.tasks import create_jobs

DESCRIPTION = """
copyforge writes marketing copy with large language models (ad slogans, product descriptions,
blog posts; English and Chinese), checks every variant, stores each generation with its full
provenance, and learns from your ratings.

**Try it:** open *Write copy*, pick an endpoint, press *Try it out*, edit the example and
*Execute*. Then rate a variant under *Ratings* and find it under *History*.

Every error has one shape: `{"error": {"type", "message", "param", "request_id"}}`.
"""


def _openapi_with_server_limits(app: FastAPI, settings: Settings) -> dict[str, Any]:
    # What this server accepts, not only what the models allow: the configured aliases are
    # the only valid `model` values (Swagger UI then offers a list), and `n` and
    # `max_tokens` are capped by the settings, so a request the schema calls valid is one
    # the server takes.
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        registry: ModelRegistry | None = getattr(app.state, "registry", None)
        for kind in KINDS.values():
            fields = schema["components"]["schemas"][kind.brief_model.__name__]["properties"]
            fields["n"]["maximum"] = settings.max_n
            fields["max_tokens"]["anyOf"][0]["maximum"] = settings.max_tokens_cap
            if registry is not None and registry.aliases():
                fields["model"]["anyOf"] = [
                    {"type": "string", "enum": registry.aliases()},
                    {"type": "null"},
                ]
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(
    settings: Settings | None = None, *, registry: ModelRegistry | None = None
) -> FastAPI:
    """Build the application; the database schema must already be migrated."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.database = Database(settings)
        app.state.store = GenerationStore(app.state.database)
        app.state.events = EventStore(app.state.database)
        app.state.serving = ExperimentServer(app.state.database, app.state.events)
        app.state.scorers = Scorers(app.state.database)
        app.state.prompts = PromptLibrary(settings.prompts_dir)
        app.state.registry = registry or ModelRegistry.from_settings(settings)
        await app.state.registry.warm_up()
        app.state.background = BackgroundWrites()
        limiter = create_limiter(settings.redis_url)
        app.state.authenticator = Authenticator(settings, app.state.database, limiter)
        app.state.jobs = create_jobs(settings, app.state.database, app.state.registry)
        await app.state.jobs.startup()
        # Sends again what a process that died left unfinished (and, at startup, what this
        # one did), wherever the broker runs it.
        sweeper = asyncio.create_task(app.state.jobs.sweep_forever())
        purger = (
            asyncio.create_task(purge_forever(app.state.database, settings.retention_days))
            if settings.retention_days
            else None
        )
        # What startup loaded lives as long as the process. Frozen, the cyclic garbage
        # collector no longer walks it on every full collection, which stalled every request
        # for as long as it took (docs/benchmarks.md has the figures).
        gc.freeze()
        try:
            yield
        finally:
            if purger is not None:
                purger.cancel()
            sweeper.cancel()
            # Awaited: a sweep cut mid-query would otherwise answer into a closed loop.
            await asyncio.gather(sweeper, return_exceptions=True)
            await app.state.jobs.shutdown()
            await limiter.counters.aclose()
            # Streams whose clients left are still storing what they wrote: let them finish.
            await app.state.background.drain(timeout_s=30)
            await app.state.store.aclose()
            await app.state.serving.aclose()
            await app.state.events.aclose()
            await app.state.registry.aclose()
            await app.state.database.dispose()
            metrics.process_exited(os.getpid())

    app = FastAPI(
        title="copyforge",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's own pages load their scripts from a CDN; install_docs serves them locally.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={
            IMPORT_PATH: settings.max_import_bytes,
            REVIEW_IMPORT_PATH: settings.max_review_import_bytes,
        },
    )
    # Added last, so it runs first: every response, even a 413, carries the id.
    app.add_middleware(RequestIdMiddleware)
    # Outermost: times the whole answer, the other middleware included.
    app.add_middleware(MetricsMiddleware)
    for router in (
        write_router(),
        history_router,
        ratings_router,
        experiments_router,
        knowledge_router,
        insight_router,
        lint_router,
        system_router,
    ):
        app.include_router(router)
    install_docs(app)
    app.openapi = lambda: _openapi_with_server_limits(app, settings)  # type: ignore[method-assign]
    logging.getLogger("copyforge").setLevel(settings.log_level.upper())
    return app
