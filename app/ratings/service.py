"""Rating a variant: insert or replace, atomically, and mark its generation as changed."""

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_insert
from app.errors import NotFound
from app.ids import new_id
from app.models import Generation, Rating, Variant, utcnow
from app.ratings.schemas import RatingCreate


async def rate_variant(
    session: AsyncSession,
    *,
    workspace_id: str,
    variant_id: str,
    rating: RatingCreate,
    rater: str,
) -> Rating:
    """Store the rater's score for a variant (replacing their earlier one) and return it."""
    generation_id = await session.scalar(
        select(Variant.generation_id)
        .join(Generation, Generation.id == Variant.generation_id)
        .where(Variant.id == variant_id, Generation.workspace_id == workspace_id)
    )
    if generation_id is None:
        raise NotFound(f"No variant {variant_id!r}.", param="variant_id")
    now = utcnow()
    statement = dialect_insert(session, Rating).values(
        id=new_id(),
        variant_id=variant_id,
        rater=rater,
        score=rating.score,
        comment=rating.comment,
        created_at=now,
        updated_at=now,
    )
    # One statement, so two concurrent first ratings by one rater cannot both insert.
    statement = statement.on_conflict_do_update(
        index_elements=[Rating.variant_id, Rating.rater],
        set_={"score": rating.score, "comment": rating.comment, "updated_at": now},
    )
    await session.execute(statement)
    await session.execute(
        update(Generation).where(Generation.id == generation_id).values(updated_at=now)
    )
    stored = await session.scalar(
        select(Rating)
        .where(Rating.variant_id == variant_id, Rating.rater == rater)
        .execution_options(populate_existing=True)
    )
    assert stored is not None
    return stored
