"""HTTP route for rating a variant."""

from typing import Annotated

from fastapi import APIRouter, Path

from app.deps import RateCaller, SessionDep
from app.generation.schemas import RatingRead
from app.openapi_docs import AUTH_ERRORS, BODY_ERRORS, error_responses
from app.ratings.schemas import RatingCreate
from app.ratings.service import rate_variant

router = APIRouter(prefix="/v1", tags=["Ratings"])


@router.put(
    "/variants/{variant_id}/rating",
    response_model=RatingRead,
    summary="Rate a variant",
    description="Score a variant 1..5 with an optional comment. Idempotent per rater: rating "
    "again replaces the rater's earlier score, it never adds a second one. The variant's "
    "generation counts as updated, so pollers see the new rating.",
    responses=error_responses(404, *AUTH_ERRORS, *BODY_ERRORS),
)
async def put_rating(
    variant_id: Annotated[
        str,
        Path(min_length=1, max_length=64, description="Variant id from a generation."),
    ],
    body: RatingCreate,
    session: SessionDep,
    caller: RateCaller,
) -> RatingRead:
    rater = body.rater or caller.rater or "anonymous"
    rating = await rate_variant(
        session, workspace_id=caller.workspace_id, variant_id=variant_id, rating=body, rater=rater
    )
    return RatingRead.model_validate(rating)
