"""Annotated dependency aliases: what routers ask FastAPI for.

The getters are `async def` although they never await: FastAPI runs a plain `def`
dependency in a worker thread, a thread hop per dependency on every request."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, requires
from app.db import Database
from app.jobs import Jobs
from app.llm.registry import ModelRegistry
from app.prompting import PromptLibrary

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit when the endpoint returns, roll back when it raises."""
    database: Database = request.app.state.database
    factory = (
        database.write_sessions if request.method in _WRITE_METHODS else database.read_sessions
    )
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


async def get_registry(request: Request) -> ModelRegistry:
    """The model registry (tests override this with fake clients)."""
    registry: ModelRegistry = request.app.state.registry
    return registry


async def get_jobs(request: Request) -> Jobs:
    """The job seam: where work off the request path is sent."""
    jobs: Jobs = request.app.state.jobs
    return jobs


async def get_prompts(request: Request) -> PromptLibrary:
    """The loaded prompt templates."""
    prompts: PromptLibrary = request.app.state.prompts
    return prompts


# scope="function": commit before the response is sent, so a 2xx means the row is stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
LLMDep = Annotated[ModelRegistry, Depends(get_registry)]
PromptsDep = Annotated[PromptLibrary, Depends(get_prompts)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]
# Callers holding each scope (all of them when auth is off on a loopback bind).
GenerateCaller = Annotated[Principal, Depends(requires("generate"))]
RateCaller = Annotated[Principal, Depends(requires("rate"))]
ReadCaller = Annotated[Principal, Depends(requires("read"))]
# Events and assignments: counted by the route against the key's events budget.
EventsCaller = Annotated[Principal, Depends(requires("rate", per_minute="events"))]
ServingCaller = Annotated[Principal, Depends(requires("read", per_minute="events"))]
KnowledgeCaller = Annotated[Principal, Depends(requires("knowledge"))]
AdminCaller = Annotated[Principal, Depends(requires("admin"))]
