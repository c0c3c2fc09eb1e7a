"""HTTP route for linting a text."""

from fastapi import APIRouter

from app.deps import ReadCaller, SessionDep
from app.generation.schemas import CheckRead, KnowledgeRef
from app.lint.schemas import LintRead, LintRequest, PlatformRead
from app.lint.service import lint
from app.openapi_docs import AUTH_ERRORS, BODY_ERRORS, error_responses
from app.platforms.profiles import profiles

router = APIRouter(prefix="/v1")


@router.post(
    "/checks",
    tags=["Checks"],
    response_model=LintRead,
    summary="Check a text",
    description="Runs the checks a generation runs on its variants on any text, "
    "human-written included, without calling a model: advertising law, the brand kit's "
    "rules (`brand_id`), figures against the product's facts (`product_id`), and, with "
    "`kind` and `brief`, the kind's format and limits. Each failed check names what it "
    "found (`span`). With `platform` (and `field`), the length as that platform counts it "
    "(X's weighted count, display width, characters) against its limits. Paste copy and see "
    "what to fix.",
    responses=error_responses(404, *AUTH_ERRORS, *BODY_ERRORS),
)
async def check_text(body: LintRequest, session: SessionDep, caller: ReadCaller) -> LintRead:
    results, knowledge = await lint(session, caller.workspace_id, body)
    return LintRead(
        passed=all(r.passed for r in results if r.hard),
        checks=[CheckRead.model_validate(r.as_json()) for r in results],
        knowledge=KnowledgeRef(
            brand_id=knowledge.brand_id,
            brand_version=knowledge.brand_version,
            product_id=knowledge.product_id,
            audience_id=knowledge.audience_id,
        ),
    )


@router.get(
    "/platforms",
    tags=["Platforms"],
    response_model=list[PlatformRead],
    summary="List platform profiles",
    description="Each platform's fields with their limits, how it counts them and the source "
    "of every figure. `POST /v1/checks` with `platform` checks a text against them.",
    responses=error_responses(*AUTH_ERRORS),
)
async def list_platforms(caller: ReadCaller) -> list[PlatformRead]:
    return [
        PlatformRead.model_validate({"key": key, **profile.model_dump()})
        for key, profile in profiles().items()
    ]
