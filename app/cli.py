"""`copyforge serve | db upgrade | generate <kind> ...`, all through the same code as the API."""

import argparse
import asyncio
import sys
import typing
from collections.abc import Sequence
from typing import Any, get_args, get_origin

from pydantic import ValidationError

from app.config import get_settings
from app.content.kinds import KINDS, ContentKind


def _kind_by_cli_name(name: str) -> ContentKind:
    for kind in KINDS.values():
        if name in (kind.name, kind.path.removeprefix("/v1/"), kind.name.replace("_", "-")):
            return kind
    raise SystemExit(f"unknown kind {name!r}; choose from: {', '.join(_cli_names())}")


def _cli_names() -> list[str]:
    return [k.path.removeprefix("/v1/") for k in KINDS.values()]


def _is_list(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _is_list(get_args(annotation)[0])
    return origin is list


def _add_kind_arguments(parser: argparse.ArgumentParser, kind: ContentKind) -> None:
    for name, field in kind.request_model.model_fields.items():
        flag = "--" + name.replace("_", "-")
        help_text = field.description or ""
        if _is_list(field.annotation):
            parser.add_argument(flag, dest=name, action="append", help=help_text + " (repeat)")
        elif name == "specs":
            parser.add_argument(
                flag, dest=name, action="append", metavar="NAME=VALUE", help=help_text + " (repeat)"
            )
        else:
            parser.add_argument(flag, dest=name, help=help_text)


def _brief_from_args(kind: ContentKind, args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in kind.request_model.model_fields:
        value = getattr(args, name, None)
        if value is None:
            continue
        if name == "specs":
            value = dict(item.split("=", 1) for item in value if "=" in item)
        data[name] = value
    return data


async def _generate(kind: ContentKind, brief: dict[str, Any], as_json: bool) -> int:
    from app.content.service import GenerationContext, generate
    from app.content.views import generation_read
    from app.db import Database
    from app.errors import AppError
    from app.llm.registry import ModelRegistry
    from app.migrations import upgrade
    from app.prompting import PromptLibrary

    settings = get_settings()
    try:
        request = kind.request_model.model_validate(brief)
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
    try:
        async with database.write_sessions() as session:
            context = GenerationContext(
                session, database, registry, PromptLibrary(settings.prompts_dir), settings
            )
            result = await generate(context, kind=kind, request=request)
            await session.commit()
    except AppError as exc:
        where = f"{exc.param}: " if exc.param else ""
        print(f"error: {where}{exc.message}", file=sys.stderr)
        return 2 if exc.status_code in (400, 422) else 1
    finally:
        await registry.aclose()
        await database.dispose()
    generation = generation_read(result.generation, with_prompt=False)
    if as_json:
        print(generation.model_dump_json(indent=2))
    else:
        for variant in generation.variants:
            failed = [c.name for c in variant.checks if not c.passed]
            note = f"  [failed: {', '.join(failed)}]" if failed else ""
            print(f"{variant.index + 1}. {variant.text}{note}")
        print(f"-- generation {generation.id} ({generation.status}, model {generation.model})")
    if (failure := result.failure()) is not None:
        print(f"error: {failure.type}: {failure.message}", file=sys.stderr)
        return 1
    return 0


def _serve() -> int:
    import uvicorn

    from app.migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=30,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `copyforge` command."""
    parser = argparse.ArgumentParser(prog="copyforge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="apply migrations, then serve HTTP (COPYFORGE_HOST/PORT)")
    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"], help="upgrade to the latest schema")
    gen = commands.add_parser("generate", help="write copy and print the variants")
    gen.add_argument("--json", action="store_true", help="print the stored generation as JSON")
    kinds = gen.add_subparsers(dest="kind", required=True)
    for kind in KINDS.values():
        sub = kinds.add_parser(kind.path.removeprefix("/v1/"), aliases=[kind.name], help=kind.title)
        _add_kind_arguments(sub, kind)

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve()
    if args.command == "db":
        from app.migrations import upgrade

        upgrade(get_settings().database_url)
        print("database is at the latest schema")
        return 0
    kind = _kind_by_cli_name(args.kind)
    return asyncio.run(_generate(kind, _brief_from_args(kind, args), args.json))


if __name__ == "__main__":
    raise SystemExit(main())
