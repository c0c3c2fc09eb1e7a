"""Property-based testing of the live OpenAPI document with every schemathesis check.

A real `copyforge serve` (auth on, SQLite file, a mock OpenAI-compatible model on loopback)
is fuzzed over HTTP; the run must end with zero failures."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok

from app.auth import keys
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrations import upgrade
from tests.mock_upstream import create_mock_app
from tests.processes import running_server
from tests.servers import serve_in_thread

CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
EXAMPLES = int(os.environ.get("COPYFORGE_SCHEMATHESIS_EXAMPLES", "20"))


async def admin_key(database_url: str) -> str:
    database = Database(Settings(database_url=database_url))
    try:
        async with database.write_sessions() as session:
            created = await keys.create_key(
                session,
                workspace_id="fuzz",
                scopes=list(keys.SCOPES),
                requests_per_minute=10_000_000,
                tokens_per_day=2_000_000_000,
            )
            await session.commit()
    finally:
        await database.dispose()
    return created.secret


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    upgrade(url)
    key = asyncio.run(admin_key(url))
    with serve_in_thread(create_mock_app()) as upstream:
        env = {
            "COPYFORGE_AUTH_REQUIRED": "true",
            "COPYFORGE_MODELS": '{"mock": {"provider": "openai_compat", "base_url": "'
            + upstream
            + '/v1", "model": "mock-1", "response_format": "json_schema"}}',
            "COPYFORGE_DEFAULT_MODEL": "mock",
        }
        with running_server(url, tmp_path / "serve.log", env) as served:
            run = subprocess.run(
                [
                    str(Path(sys.executable).parent / "schemathesis"),
                    "--config-file",
                    str(CONFIG),
                    "run",
                    f"{served.base_url}/openapi.json",
                    "--checks",
                    "all",
                    "--header",
                    f"Authorization: Bearer {key}",
                    "--max-examples",
                    str(EXAMPLES),
                    "--seed",
                    "20261129",
                    "--output-sanitize",
                    "false",
                    # One worker: hypothesis parses lambdas' source with ast.parse, which
                    # CPython 3.11 can break on when two threads parse at once
                    # ("AST constructor recursion depth mismatch", seen in CI).
                    "--workers",
                    "1",
                    "--max-time",
                    "240",
                ],
                capture_output=True,
                text=True,
                timeout=500,
                cwd=tmp_path,
                env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
            )
    if run.returncode != 0:
        # Lines cut short: a fuzzed body can run to megabytes and push the failure's heading
        # (the operation, the check, the status) out of the report.
        report = "\n".join(line[:400] for line in run.stdout.splitlines())
        pytest.fail(f"schemathesis found problems:\n{report[-12000:]}\n{run.stderr[-2000:]}")
    assert "failures" not in run.stdout.splitlines()[-1] or " 0 failures" in run.stdout


WRITERS = ("ad-slogans", "product-descriptions", "blog-posts", "social-posts", "emails", "ad-sets")


def test_the_widened_expectations_reach_only_their_operations() -> None:
    """schemathesis joins an entry's filters with OR: a method filter beside a path would
    widen every operation of that method. Check where each entry lands."""
    app = create_app(Settings(models={}))
    config = SchemathesisConfig.from_path(str(CONFIG))
    schema = schemathesis.openapi.from_dict(app.openapi(), config=config)
    widened = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        checks = schema.config.operations.get_for_operation(operation).checks
        statuses = checks.positive_data_acceptance.expected_statuses
        if "422" in statuses or "400" in statuses:
            widened[f"{operation.method.upper()} {operation.path}"] = sorted(statuses)
    assert widened == {
        "GET /v1/generations": ["2xx", "3xx", "400"],
        "POST /v1/ad-slogans": ["2xx", "404", "422"],
        "POST /v1/product-descriptions": ["2xx", "404", "422"],
        "POST /v1/blog-posts": ["2xx", "404", "422"],
        "POST /v1/social-posts": ["2xx", "404", "422"],
        "POST /v1/emails": ["2xx", "404", "422"],
        "POST /v1/ad-sets": ["2xx", "404", "422"],
        "POST /v1/checks": ["2xx", "404", "422"],
        **{f"POST /v1/{slug}/per-audience": ["2xx", "404", "422"] for slug in WRITERS},
        "POST /v1/products/import": ["2xx", "422"],
        "GET /v1/insights": ["2xx", "404", "422"],
        "POST /v1/personas": ["2xx", "404", "422"],
        "POST /v1/reviews": ["2xx", "422"],
        "POST /v1/reviews/import": ["2xx", "422"],
        "POST /v1/experiments": ["2xx", "404", "409", "422"],
        "GET /v1/experiments": ["2xx", "404", "409", "422"],
        "POST /v1/experiments/{experiment_id}/stop": ["2xx", "404", "409", "422"],
    }
