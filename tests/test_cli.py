"""The installed `copyforge` console script, run as a subprocess against a temp SQLite file and
the mock OpenAI-compatible upstream served on 127.0.0.1."""

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, cast

import pytest
from sqlalchemy import create_engine, inspect, text

from app import __version__
from tests.mock_upstream import SLOGANS_EN, create_mock_app
from tests.processes import answers, copyforge_command
from tests.servers import free_port, serve_in_thread

TIMEOUT_S = 60
TABLES = {"generation", "variant", "rating"}


class Upstream(NamedTuple):
    """The mock upstream's OpenAI base URL, the request bodies it got and what it answered."""

    base_url: str
    calls: list[dict[str, Any]]
    replies: list[str]


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    mock = create_mock_app()
    with serve_in_thread(mock) as base:
        yield Upstream(
            base + "/v1",
            cast(list[dict[str, Any]], mock.state.calls),
            cast(list[str], mock.state.replies),
        )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def cli_env(db_path: Path, base_url: str | None = None, **model: Any) -> dict[str, str]:
    """The caller's environment minus any COPYFORGE_ settings, plus the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYFORGE_")}
    env["COPYFORGE_DATABASE_URL"] = f"sqlite:///{db_path}"
    if base_url is not None:
        config = {"provider": "openai_compat", "base_url": base_url, "model": "mock-1", **model}
        models = {"mock": config}
        env["COPYFORGE_MODELS"] = json.dumps(models)
        env["COPYFORGE_DEFAULT_MODEL"] = "mock"
    return env


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [copyforge_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def table_names(db_path: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def stored_generations(db_path: Path) -> list[dict[str, Any]]:
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT g.id, g.kind, g.status, g.error_type, g.provider, g.resolved_model, "
                    "(SELECT count(*) FROM variant v WHERE v.generation_id = g.id) AS variants "
                    "FROM generation g"
                )
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


SLOGAN_ARGS = ("generate", "ad-slogans", "--product", "Aurora trail shoes", "--key-message")


def test_db_upgrade_creates_the_tables(db_path: Path, tmp_path: Path) -> None:
    assert not db_path.exists()

    done = run_cli("db", "upgrade", env=cli_env(db_path), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "latest schema" in done.stdout
    assert table_names(db_path) >= TABLES
    # Running it again is harmless.
    again = run_cli("db", "upgrade", env=cli_env(db_path), cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_generate_prints_numbered_variants_and_stores_the_row(
    db_path: Path, tmp_path: Path, upstream: Upstream
) -> None:

    done = run_cli(
        *SLOGAN_ARGS,
        "grip on wet rock",
        "--n",
        "2",
        env=cli_env(db_path, upstream.base_url),
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3, done.stdout
    numbers, texts = zip(*(line.split(". ", 1) for line in lines[:2]), strict=True)
    assert numbers == ("1", "2")
    assert sorted(texts) == sorted(upstream.replies)
    assert len(set(texts)) == 2
    assert set(texts) <= set(SLOGANS_EN)
    assert lines[2].startswith("-- generation ")
    generation_id = lines[2].split()[2]
    assert "succeeded" in lines[2]
    assert "model mock" in lines[2]
    assert len(upstream.calls) == 2
    assert all(c["model"] == "mock-1" for c in upstream.calls)
    assert stored_generations(db_path) == [
        {
            "id": generation_id,
            "kind": "ad_slogan",
            "status": "succeeded",
            "error_type": None,
            "provider": "openai_compat",
            "resolved_model": "mock-1",
            "variants": 2,
        }
    ]


@pytest.mark.parametrize("where", ["before the kind", "after the fields"])
def test_generate_json_prints_the_stored_generation(
    db_path: Path, tmp_path: Path, upstream: Upstream, where: str
) -> None:
    fields = [*SLOGAN_ARGS[1:], "grip on wet rock", "--n", "2", "--keywords", "grip"]
    fields += ["--keywords", "rock"]
    args = (
        ("generate", "--json", *fields)
        if where == "before the kind"
        else ("generate", *fields, "--json")
    )

    done = run_cli(*args, env=cli_env(db_path, upstream.base_url), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    generation = json.loads(done.stdout)
    assert generation["kind"] == "ad_slogan"
    assert generation["status"] == "succeeded"
    assert generation["provider"] == "openai_compat"
    assert generation["resolved_model"] == "mock-1"
    assert generation["input"]["product"] == "Aurora trail shoes"
    assert generation["input"]["keywords"] == ["grip", "rock"]
    assert generation["options"]["n"] == 2
    assert sorted(v["text"] for v in generation["variants"]) == sorted(upstream.replies)
    assert [row["id"] for row in stored_generations(db_path)] == [generation["id"]]


def test_validation_error_exits_2_with_a_readable_message(
    db_path: Path, tmp_path: Path, upstream: Upstream
) -> None:

    done = run_cli(
        *SLOGAN_ARGS,
        "grip on wet rock",
        "--n",
        "0",
        env=cli_env(db_path, upstream.base_url),
        cwd=tmp_path,
    )

    assert done.returncode == 2
    assert "error: n:" in done.stderr
    assert "greater than or equal to 1" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert upstream.calls == []


@pytest.mark.parametrize(
    ("flags", "param"), [(("--n", "6"), "n"), (("--model", "nope"), "model")], ids=["n", "model"]
)
def test_validation_error_from_the_service_exits_2(
    db_path: Path,
    tmp_path: Path,
    upstream: Upstream,
    flags: tuple[str, ...],
    param: str,
) -> None:

    done = run_cli(
        *SLOGAN_ARGS,
        "grip on wet rock",
        *flags,
        env=cli_env(db_path, upstream.base_url),
        cwd=tmp_path,
    )

    assert done.returncode == 2
    assert f"error: {param}:" in done.stderr
    assert "Traceback" not in done.stderr
    assert upstream.calls == []


def test_unreachable_model_exits_1_and_stores_the_failed_generation(
    db_path: Path, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"

    done = run_cli(
        *SLOGAN_ARGS,
        "grip on wet rock",
        env=cli_env(db_path, dead, max_retries=0),
        cwd=tmp_path,
    )

    assert done.returncode == 1
    assert "error: upstream_error:" in done.stderr
    assert "Traceback" not in done.stderr
    [row] = stored_generations(db_path)
    assert row["status"] == "failed"
    assert row["error_type"] == "connection"
    assert row["variants"] == 0
    assert f"-- generation {row['id']} (failed" in done.stdout


def test_missing_required_field_exits_2_naming_the_field(
    db_path: Path, tmp_path: Path, upstream: Upstream
) -> None:

    done = run_cli(
        "generate",
        "ad-slogans",
        "--product",
        "Aurora",
        env=cli_env(db_path, upstream.base_url),
        cwd=tmp_path,
    )

    assert done.returncode == 2
    assert "key_message" in done.stderr
    assert "Traceback" not in done.stderr
    assert upstream.calls == []


def test_unknown_kind_fails(db_path: Path, tmp_path: Path) -> None:
    done = run_cli("generate", "limericks", "--topic", "cats", env=cli_env(db_path), cwd=tmp_path)

    assert done.returncode != 0
    assert "limericks" in done.stderr
    assert "ad-slogans" in done.stderr  # it says what would have worked
    assert "Traceback" not in done.stderr
    assert not db_path.exists()


def test_version(tmp_path: Path) -> None:
    done = run_cli("--version", env=cli_env(tmp_path / "unused.db"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"copyforge {__version__}"


def test_serve_takes_host_and_port_flags_over_the_environment(
    db_path: Path, tmp_path: Path
) -> None:
    port, env_port = free_port(), free_port()
    env = {**cli_env(db_path), "COPYFORGE_PORT": str(env_port), "COPYFORGE_AUTH_REQUIRED": "false"}
    command = [copyforge_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        assert answers(f"http://127.0.0.1:{port}/healthz", process, TIMEOUT_S)
        assert not answers(f"http://127.0.0.1:{env_port}/healthz", process, 0.5)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=TIMEOUT_S)
    # uvicorn stops cleanly on SIGTERM, then exits by re-raising it.
    assert "Application shutdown complete" in stderr.decode(errors="replace")


def test_serve_refuses_open_mode_off_loopback_whatever_the_flag(
    db_path: Path, tmp_path: Path
) -> None:
    env = {**cli_env(db_path), "COPYFORGE_AUTH_REQUIRED": "false"}
    done = run_cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0" in done.stderr


def test_serve_refuses_zero_workers(db_path: Path, tmp_path: Path) -> None:
    done = run_cli("serve", "--workers", "0", env=cli_env(db_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "--workers: must be at least 1" in done.stderr
