"""`copyforge serve | worker | db upgrade | generate <kind> ...`, all through the same code as
the API."""

import argparse
import asyncio
import os
import sys
import tempfile
import types
import typing
from collections.abc import Sequence
from typing import Any, get_args, get_origin

from pydantic import ValidationError

from app import __version__
from app.config import get_settings
from app.kinds import KINDS
from app.kinds.base import ContentKind
from app.metrics import MULTIPROC_ENV


def _kind_by_cli_name(name: str) -> ContentKind[Any]:
    for kind in KINDS.values():
        if name in (kind.name, kind.slug):
            return kind
    raise SystemExit(f"unknown kind {name!r}; choose from: {', '.join(_cli_names())}")


def _cli_names() -> list[str]:
    return [k.slug for k in KINDS.values()]


def _container(annotation: Any) -> Any:
    """`list` or `dict` for a list or mapping field (through Annotated and Optional)."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _container(get_args(annotation)[0])
    if origin in (types.UnionType, typing.Union):
        return next((c for a in get_args(annotation) if (c := _container(a))), None)
    return origin if origin in (list, dict) else None


def _add_kind_arguments(parser: argparse.ArgumentParser, kind: ContentKind[Any]) -> None:
    for name, field in kind.brief_model.model_fields.items():
        flag = "--" + name.replace("_", "-")
        help_text = field.description or ""
        container = _container(field.annotation)
        if container is list:
            parser.add_argument(flag, dest=name, action="append", help=help_text + " (repeat)")
        elif container is dict:
            parser.add_argument(
                flag, dest=name, action="append", metavar="NAME=VALUE", help=help_text + " (repeat)"
            )
        else:
            parser.add_argument(flag, dest=name, help=help_text)


def _brief_from_args(kind: ContentKind[Any], args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in kind.brief_model.model_fields.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if _container(field.annotation) is dict:
            value = dict(item.split("=", 1) for item in value if "=" in item)
        data[name] = value
    return data


async def _generate(kind: ContentKind[Any], fields: dict[str, Any], as_json: bool) -> int:
    from app.db import Database
    from app.errors import AppError
    from app.experiments.score_service import Scorers
    from app.generation.plan import Order
    from app.generation.service import GenerationContext, generate
    from app.generation.store import GenerationStore
    from app.generation.views import generation_read
    from app.llm.registry import ModelRegistry
    from app.migrations import upgrade
    from app.prompting import PromptLibrary

    settings = get_settings()
    try:
        # Command-line values arrive as text: let pydantic convert "3" to 3 here.
        brief = kind.brief_model.model_validate(fields, strict=False)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"error: {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    try:
        registry = ModelRegistry.from_settings(settings)
    except ValueError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    database = Database(settings)
    store = GenerationStore(database)
    try:
        context = GenerationContext(
            store,
            database,
            registry,
            PromptLibrary(settings.prompts_dir),
            settings,
            Scorers(database),
        )
        result = await generate(context, Order(kind, brief))
    except AppError as exc:
        where = f"{exc.param}: " if exc.param else ""
        print(f"error: {where}{exc.message}", file=sys.stderr)
        return 2 if exc.status_code in (400, 422) else 1
    finally:
        await registry.aclose()
        await store.aclose()
        await database.dispose()
    generation = generation_read(result.generation, with_prompt=False)
    if as_json:
        print(generation.model_dump_json(indent=2))
    else:
        for variant in generation.variants:
            # Hard checks only: an advisory one failing does not make a variant unusable.
            failed = [c.name for c in variant.checks if c.hard and not c.passed]
            note = f"  [failed: {', '.join(failed)}]" if failed else ""
            print(f"{variant.index + 1}. {variant.text}{note}")
        print(f"-- generation {generation.id} ({generation.status}, model {generation.model})")
    if (failure := result.failure()) is not None:
        print(f"error: {failure.type}: {failure.message}", file=sys.stderr)
        return 1
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.auth.principal import is_loopback
    from app.migrations import upgrade

    settings = get_settings()
    host = args.host or settings.host
    if not settings.auth_required and not is_loopback(host):
        print(
            f"error: refusing to serve on {host} with COPYFORGE_AUTH_REQUIRED=false: "
            "without API keys anyone who can reach it can read and spend. Bind 127.0.0.1, or "
            "turn auth on and create keys with `copyforge keys create`.",
            file=sys.stderr,
        )
        return 2
    upgrade(settings.database_url)
    workers = None if args.reload else args.workers or settings.workers
    if workers and workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # Each worker writes its metrics here and a scrape of any one sums them all; set
        # before the workers start, as the metrics library reads it when first imported.
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="copyforge-metrics-")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=args.port or settings.port,
        log_level=settings.log_level,
        timeout_keep_alive=settings.keep_alive_s,
        # Reloading runs one process that restarts on code changes; workers are then moot.
        workers=workers,
        reload=args.reload,
        timeout_graceful_shutdown=30,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from taskiq.cli.common_args import LogLevel
    from taskiq.cli.worker.args import WorkerArgs
    from taskiq.cli.worker.run import run_worker

    from app.migrations import upgrade

    settings = get_settings()
    if settings.job_broker_url is None:
        print(
            "error: set COPYFORGE_JOB_BROKER_URL (e.g. redis://127.0.0.1:6379/0) for the server "
            "and its workers; without it, jobs run inside `copyforge serve`.",
            file=sys.stderr,
        )
        return 2
    upgrade(settings.database_url)
    worker_args = WorkerArgs(
        broker="app.worker:broker",
        modules=[],
        workers=args.processes,
        log_level=LogLevel[settings.log_level.upper()],
        # Analysis is CPU work in threads: a few jobs at once per process keep it busy.
        max_async_tasks=4,
    )
    return run_worker(worker_args) or 0


async def _keys(args: argparse.Namespace) -> int:
    from app.auth import keys
    from app.db import Database
    from app.errors import AppError
    from app.migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    database = Database(settings)
    try:
        async with database.write_sessions() as session:
            if args.action == "create":
                new = await keys.create_key(
                    session,
                    workspace_id=args.workspace,
                    scopes=keys.parse_scopes(args.scopes),
                    name=args.name or "",
                    requests_per_minute=args.rpm,
                    tokens_per_day=args.tokens_per_day,
                )
                await session.commit()
                print(f"id:        {new.id}\nworkspace: {new.workspace_id}")
                print(f"scopes:    {','.join(new.scopes)}\nkey:       {new.secret}")
                print("The key is shown once; store it now.", file=sys.stderr)
            elif args.action == "list":
                for key in await keys.list_keys(session, workspace_id=args.workspace):
                    state = "revoked" if key.revoked_at else "active"
                    print(
                        f"{key.id}  {key.prefix}  {key.workspace_id}  {','.join(key.scopes)}  "
                        f"{state}  {key.name}"
                    )
            else:
                key = await keys.revoke_key(session, key_id_or_prefix=args.key)
                await session.commit()
                print(f"revoked {key.id} ({key.prefix})")
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2 if exc.status_code in (400, 404, 422) else 1
    finally:
        await database.dispose()
    return 0


async def _purge(days: int | None) -> int:
    from app.db import Database
    from app.migrations import upgrade
    from app.retention import purge_once

    settings = get_settings()
    days = days or settings.retention_days
    if not days or days < 1:
        print("error: give --days N (N >= 1) or set COPYFORGE_RETENTION_DAYS", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    database = Database(settings)
    try:
        erased = await purge_once(database, days)
    finally:
        await database.dispose()
    print(f"erased {erased} generations older than {days} days")
    return 0


async def _rebuild_counters() -> int:
    from app.db import Database
    from app.experiments.events import rebuild_counters
    from app.migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    database = Database(settings)
    try:
        async with database.write_sessions() as session:
            drift = await rebuild_counters(session)
            await session.commit()
    finally:
        await database.dispose()
    for d in drift:
        print(
            f"drift: variant {d.variant_id} on {d.day}, {d.type}: "
            f"counted {d.counted}, events {d.events}"
        )
    print(f"counters rebuilt from the raw events; {len(drift)} had drifted")
    return 1 if drift else 0


async def _train_score(workspace_id: str) -> int:
    from app.db import Database
    from app.errors import AppError
    from app.experiments.schemas import ScoreModelRead
    from app.experiments.score_service import train_score_model
    from app.migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    database = Database(settings)
    try:
        async with database.write_sessions() as session:
            model = await train_score_model(session, workspace_id)
            await session.commit()
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await database.dispose()
    print(ScoreModelRead.model_validate(model).model_dump_json(indent=2))
    return 0


def _command(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    help_text: str,
    *examples: str,
    **kwargs: Any,
) -> argparse.ArgumentParser:
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples) if examples else None
    return commands.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="copyforge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"copyforge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = _command(
        commands,
        "serve",
        "apply migrations, then serve HTTP (flags override COPYFORGE_HOST, _PORT, _WORKERS)",
        "copyforge serve",
        "copyforge serve --host 0.0.0.0 --port 9000 --workers 4",
        "copyforge serve --reload",
    )
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000)")
    serve.add_argument("--workers", type=_positive, help="worker processes (default 1)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (dev)")
    worker = _command(
        commands,
        "worker",
        "run jobs (review analysis) sent through COPYFORGE_JOB_BROKER_URL",
        "COPYFORGE_JOB_BROKER_URL=redis://127.0.0.1:6379/0 copyforge worker --processes 2",
    )
    worker.add_argument("--processes", type=_positive, default=1, help="worker processes")
    db = _command(commands, "db", "database schema", "copyforge db upgrade")
    db.add_argument("action", choices=["upgrade"], help="upgrade to the latest schema")
    keys = _command(
        commands,
        "keys",
        "API keys: create, list, revoke",
        "copyforge keys create --workspace acme --scopes generate,read --name crm",
        "copyforge keys list --workspace acme",
        "copyforge keys revoke 3f2a9c0e5b7d",
    )
    key_actions = keys.add_subparsers(dest="action", required=True)
    create = key_actions.add_parser("create", help="create a key (shown once)")
    create.add_argument("--workspace", required=True, help="workspace the key belongs to")
    create.add_argument(
        "--scopes",
        default="generate,rate,read,knowledge",
        help="generate,rate,read,knowledge,admin",
    )
    create.add_argument("--name", help="a label, e.g. the tool that uses it")
    create.add_argument("--rpm", type=int, help="requests per minute (default: server's)")
    create.add_argument("--tokens-per-day", type=int, help="model tokens per day")
    listing = key_actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--workspace", help="only this workspace")
    revoke = key_actions.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key", help="key id or prefix")
    events = _command(
        commands,
        "events",
        "engagement events: rebuild the daily counters from the raw events, reporting drift "
        "(exit 1 when any counter had drifted)",
        "copyforge events rebuild-counters",
    )
    events.add_argument("action", choices=["rebuild-counters"], help="recount every day")
    score = _command(
        commands,
        "score",
        "the learned score: train a workspace's model on its ratings and print its held-out "
        "quality (exit 1 with too few ratings)",
        "copyforge score train --workspace default",
    )
    score.add_argument("action", choices=["train"], help="train a new version")
    score.add_argument("--workspace", default="default", help="workspace id (default: default)")
    purge = _command(
        commands, "purge", "erase generations older than N days", "copyforge purge --days 90"
    )
    purge.add_argument("--days", type=int, help="default: COPYFORGE_RETENTION_DAYS")
    gen = _command(
        commands,
        "generate",
        "write copy and print the variants",
        "copyforge generate ad-slogans --product 'Aurora trail shoes' --key-message 'grip' --n 3",
        "copyforge generate product-descriptions --product-name 'Kettle One' "
        "--features 'boils 1 L in 3 min' --specs power='2200 W' --target-customer 'tea drinkers' "
        "--json",
    )
    gen.add_argument("--json", action="store_true", help="print the stored generation as JSON")
    kinds = gen.add_subparsers(dest="kind", required=True)
    for kind in KINDS.values():
        sub = kinds.add_parser(kind.slug, aliases=[kind.name], help=kind.title)
        # Also after the kind's fields; SUPPRESS keeps an absent flag from undoing one before.
        sub.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS,
            help="print the stored generation as JSON",
        )
        _add_kind_arguments(sub, kind)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `copyforge` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "worker":
        return _worker(args)
    if args.command == "db":
        from app.migrations import upgrade

        upgrade(get_settings().database_url)
        print("database is at the latest schema")
        return 0
    if args.command == "keys":
        return asyncio.run(_keys(args))
    if args.command == "events":
        return asyncio.run(_rebuild_counters())
    if args.command == "score":
        return asyncio.run(_train_score(args.workspace))
    if args.command == "purge":
        return asyncio.run(_purge(args.days))
    kind = _kind_by_cli_name(args.kind)
    return asyncio.run(_generate(kind, _brief_from_args(kind, args), args.json))


if __name__ == "__main__":
    raise SystemExit(main())
