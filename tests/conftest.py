"""Shared fixtures: a migrated database (SQLite file, or PostgreSQL when configured), the app
with a fake model, and an HTTP client over ASGI."""

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from app.config import Settings
from app.db import sync_url
from app.llm.registry import ModelRegistry
from app.main import create_app
from app.migrations import upgrade
from tests.fakes import FakeLLM

POSTGRES_URL = os.environ.get("COPYFORGE_TEST_DATABASE_URL")
# The suite runs in loopback mode (no API keys): every Settings() built in a test, and every
# `copyforge serve` a test starts, inherits this. tests/test_auth.py turns auth on explicitly.
os.environ.setdefault("COPYFORGE_AUTH_REQUIRED", "false")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `database` every test on the database under test (the `database_url` fixture,
    directly or through `settings`, `app` or `client`): .ci/run runs those again on
    PostgreSQL, and only those."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)


def reset_postgres(url: str) -> None:
    """Drop everything in the public schema, so migrations start from nothing."""
    engine = create_engine(sync_url(url))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh, migrated database for one test."""
    if POSTGRES_URL:
        reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 'copyforge.db'}"
    upgrade(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Auth is off here (loopback mode); tests/test_auth.py turns it on.
    return Settings(
        auth_required=False,
        database_url=database_url,
        models={},
        default_model=None,
    )


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
async def app(settings: Settings, fake_llm: FakeLLM) -> AsyncIterator[FastAPI]:
    # Handing the registry to create_app keeps startup from loading the embedded model.
    registry = ModelRegistry.from_clients({"fake": fake_llm}, "fake")
    application = create_app(settings, registry=registry)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http
