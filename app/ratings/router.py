"""HTTP route for rating a variant."""

from typing import Annotated

from fastapi import APIRouter, Path

from app.content.schemas import RatingRead
from app.deps import SessionDep
from app.models import DEFAULT_WORKSPACE
from app.openapi_docs import error_responses
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
    responses=error_responses(404, 422),
)
async def put_rating(
    variant_id: Annotated[
        str,
        Path(min_length=1, max_length=64, description="Variant id from a generation."),
    ],
    body: RatingCreate,
    session: SessionDep,
) -> RatingRead:
    rating = await rate_variant(
        session, workspace_id=DEFAULT_WORKSPACE, variant_id=variant_id, rating=body
    )
    return RatingRead.model_validate(rating)
