"""Lint a text with the checks a generation runs on its variants: the kind's format and
limits (when a kind is named), the brand kit's rules, the product's facts and advertising
law. The text is checked as pasted: nothing is trimmed or fitted."""

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.checks import CheckResult
from app.checks.policy import policy_checks
from app.errors import ValidationFailed
from app.kinds import KINDS
from app.kinds.base import OPTION_FIELDS
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
        results = kind.check(request.text, brief)
    if request.platform is not None:
        results += _platform_checks(request)
    elif request.field is not None:
        raise ValidationFailed("field needs a platform.", param="field")
    policy = knowledge.policy(request.kind or "", request.language, brief_fields)
    return results + policy_checks(request.text, policy), knowledge


def _platform_checks(request: LintRequest) -> list[CheckResult]:
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
    return field_checks(request.platform, field, request.text)
