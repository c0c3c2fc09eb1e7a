"""Lint a text with the checks a generation runs on its variants: the kind's format and
limits (when a kind is named), the brand kit's rules, the product's facts and advertising
law. The text is checked as pasted: nothing is trimmed or fitted."""

import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.checks import CheckResult
from app.checks.policy import policy_checks
from app.errors import ValidationFailed
from app.kinds import KINDS
from app.kinds.base import OPTION_FIELDS, Brief, ContentKind
from app.kinds.structured import content, read_values
from app.knowledge.service import load_knowledge
from app.lint.schemas import LintRequest
from app.platforms.profiles import field_checks, profiles

# Set at the top level of the request, not inside `brief`.
_TOP_LEVEL = frozenset({"language", "brand_id", "product_id", "audience_id"})


async def lint(
    session: AsyncSession, workspace_id: str, request: LintRequest
) -> tuple[list[CheckResult], Any]:
    """The check results for the text, and the knowledge it was checked against."""
    knowledge = await load_knowledge(
        session,
        workspace_id,
        brand_id=request.brand_id,
        product_id=request.product_id,
        audience_id=request.audience_id,
    )
    brief_fields: dict[str, Any] = {}
    results: list[CheckResult] = []
    text = request.text or ""
    if request.kind is None:
        if request.brief:
            raise ValidationFailed("brief needs a kind to check against.", param="brief")
    else:
        given = request.brief or {}
        misplaced = sorted((_TOP_LEVEL | OPTION_FIELDS) & given.keys())
        if misplaced:
            raise ValidationFailed(
                f"{', '.join(misplaced)}: set at the top level, not in brief.", param="brief"
            )
        kind = KINDS[request.kind]
        top = request.model_dump(include=set(_TOP_LEVEL), exclude_none=True)
        try:
            brief = kind.brief_model.model_validate({**given, **top})
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in ("brief", *first["loc"]))
            raise ValidationFailed(f"{where}: {first['msg']}", param=where) from None
        brief = kind.fill(brief, knowledge)
        brief_fields = brief.template_input()
        if request.fields is not None:
            text, results = _structured_checks(kind, brief, request.fields)
        else:
            results = kind.check(text, brief)
    if request.fields is not None and request.kind is None:
        raise ValidationFailed("fields need a structured kind to check against.", param="fields")
    if request.platform is not None:
        results += _platform_checks(request, text)
    elif request.field is not None:
        raise ValidationFailed("field needs a platform.", param="field")
    policy = knowledge.policy(request.kind or "", request.language, brief_fields)
    return results + policy_checks(text, policy), knowledge


def _structured_checks(
    kind: ContentKind[Any], brief: Brief, fields: dict[str, Any]
) -> tuple[str, list[CheckResult]]:
    """The fields' checks, as a generation runs them; the whole-copy rules read the fields'
    texts."""
    if kind.structure is None:
        raise ValidationFailed(f"{kind.name} has no fields; send its text.", param="fields")
    spec = kind.structure.fields(brief)
    known = {f.name for f in spec}
    if unknown := sorted(fields.keys() - known):
        raise ValidationFailed(
            f"{kind.name} has no field {unknown[0]!r}; its fields: {', '.join(sorted(known))}.",
            param="fields",
        )
    values, results = read_values(json.dumps(fields, ensure_ascii=False), spec)
    if values is None:
        raise ValidationFailed("fields hold no text.", param="fields")
    words = content(values)
    results += kind.structure.check(values, brief) + kind.check(words, brief)
    return words, results


def _platform_checks(request: LintRequest, text: str) -> list[CheckResult]:
    known = profiles()
    if request.platform not in known:
        raise ValidationFailed(
            f"Unknown platform {request.platform!r}; one of: {', '.join(known)}.",
            param="platform",
        )
    profile = known[request.platform]
    field = request.field or profile.main_field
    if field not in profile.fields:
        raise ValidationFailed(
            f"{profile.name} has no field {field!r}; its fields: {', '.join(profile.fields)}.",
            param="field",
        )
    return field_checks(request.platform, field, text)
