"""Reading, filtering, paging, deleting and aggregating stored generations."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, selectinload

from app.errors import NotFound
from app.history import cursor as cursors
from app.history.schemas import GenerationFilters, GroupBy, Sort, StatsRow
from app.models import Generation, Rating, Variant, VariantDay
from app.search import like_pattern

_WITH_VARIANTS = selectinload(Generation.variants).selectinload(Variant.ratings)
# The list never shows the rendered prompt (only the detail view does): don't read it.
_WITHOUT_PROMPT = (
    defer(Generation.system_prompt, raiseload=True),
    defer(Generation.prompt, raiseload=True),
)
_GROUP_COLUMNS = {
    GroupBy.kind: Generation.kind,
    GroupBy.model: Generation.model_alias,
    GroupBy.template_version: Generation.template_version,
    GroupBy.language: Generation.language,
    GroupBy.brand: Generation.brand_id,
    GroupBy.product: Generation.product_id,
    GroupBy.audience: Generation.audience_id,
}


def as_utc(value: datetime) -> datetime:
    """A query timestamp in UTC; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _conditions(workspace_id: str, filters: GenerationFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Generation.workspace_id == workspace_id]
    equal = {
        Generation.kind: filters.kind,
        Generation.model_alias: filters.model,
        Generation.template_version: filters.template_version,
        Generation.status: filters.status,
        Generation.language: filters.language,
        Generation.brand_id: filters.brand_id,
        Generation.product_id: filters.product_id,
        Generation.audience_id: filters.audience_id,
    }
    conditions += [column == value for column, value in equal.items() if value is not None]
    if filters.created_after is not None:
        conditions.append(Generation.created_at > as_utc(filters.created_after))
    if filters.created_before is not None:
        conditions.append(Generation.created_at < as_utc(filters.created_before))
    if filters.updated_since is not None:
        # Inclusive: a poller may see a row twice, but never misses one stamped at its mark.
        conditions.append(Generation.updated_at >= as_utc(filters.updated_since))
    if filters.min_rating is not None:
        rated_variant = (
            select(Rating.variant_id)
            .join(Variant, Variant.id == Rating.variant_id)
            .where(Variant.generation_id == Generation.id)
            .group_by(Rating.variant_id)
            .having(func.avg(Rating.score) >= filters.min_rating)
            .correlate(Generation)
        )
        conditions.append(rated_variant.exists())
    if filters.q:
        conditions.append(Generation.search_text.like(like_pattern(filters.q), escape="\\"))
    return conditions


def _sort_column(sort: Sort) -> Any:
    return Generation.updated_at if sort is Sort.updated else Generation.created_at


def _after_cursor(sort: Sort, at: datetime, row_id: str) -> ColumnElement[bool]:
    # (column, id) past (at, row_id), written with a plain bound on the column first: neither
    # SQLite (with bound parameters) nor PostgreSQL turns the bare OR into an index range, so
    # without it a deep page walks the index from the top (1M rows: 900k-deep page 160 ms).
    column = _sort_column(sort)
    if sort is Sort.newest:
        return and_(column <= at, or_(column < at, Generation.id < row_id))
    return and_(column >= at, or_(column > at, Generation.id > row_id))


async def list_generations(
    session: AsyncSession,
    *,
    workspace_id: str,
    filters: GenerationFilters,
    sort: Sort,
    cursor: str | None,
    limit: int,
) -> tuple[list[Generation], str | None]:
    """One page of generations in keyset order, and the cursor of the next page."""
    conditions = _conditions(workspace_id, filters)
    if cursor is not None:
        conditions.append(_after_cursor(sort, *cursors.decode(cursor, sort.value)))
    column = _sort_column(sort)
    order = (
        (column.desc(), Generation.id.desc()) if sort is Sort.newest else (column, Generation.id)
    )
    query = select(Generation).where(*conditions).order_by(*order).limit(limit + 1)
    rows = list((await session.scalars(query.options(_WITH_VARIANTS, *_WITHOUT_PROMPT))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    at = last.updated_at if sort is Sort.updated else last.created_at
    return rows, cursors.encode(sort.value, at, last.id)


async def get_generation(
    session: AsyncSession, *, workspace_id: str, generation_id: str
) -> Generation:
    """One generation with its variants and ratings, or NotFound."""
    query = select(Generation).where(
        Generation.id == generation_id, Generation.workspace_id == workspace_id
    )
    generation = (await session.scalars(query.options(_WITH_VARIANTS))).first()
    if generation is None:
        raise NotFound(f"No generation {generation_id!r}.", param="generation_id")
    return generation


async def delete_generation(
    session: AsyncSession, *, workspace_id: str, generation_id: str
) -> None:
    """Erase a generation with its variants and ratings (the foreign keys cascade)."""
    result = await session.execute(
        delete(Generation).where(
            Generation.id == generation_id, Generation.workspace_id == workspace_id
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"No generation {generation_id!r}.", param="generation_id")


async def stats(
    session: AsyncSession, *, workspace_id: str, filters: GenerationFilters, group_by: GroupBy
) -> list[StatsRow]:
    """Counts, ratings, engagement, latency and tokens per group, largest group first."""
    key = _GROUP_COLUMNS[group_by]
    conditions = _conditions(workspace_id, filters)
    totals = await session.execute(
        select(
            key,
            func.count(),
            func.sum(case((Generation.status == "failed", 1), else_=0)),
            func.avg(Generation.latency_ms),
            func.avg(Generation.input_tokens),
            func.avg(Generation.output_tokens),
        )
        .where(*conditions)
        .group_by(key)
    )
    ratings = await session.execute(
        select(
            key,
            func.count(func.distinct(Generation.id)),
            func.count(Rating.id),
            func.avg(Rating.score),
        )
        .join(Variant, Variant.generation_id == Generation.id)
        .join(Rating, Rating.variant_id == Variant.id)
        .where(*conditions)
        .group_by(key)
    )
    rated = {row[0]: row[1:] for row in ratings.all()}
    engagement = await session.execute(
        select(key, VariantDay.type, func.sum(VariantDay.events))
        .join(Variant, Variant.generation_id == Generation.id)
        .join(VariantDay, VariantDay.variant_id == Variant.id)
        .where(*conditions, VariantDay.type.in_(["impression", "click", "conversion"]))
        .group_by(key, VariantDay.type)
    )
    seen: dict[Any, dict[str, int]] = {}
    for group, kind, n in engagement:
        seen.setdefault(group, {})[kind] = int(n)

    def _mean(value: Any) -> float | None:
        return None if value is None else round(float(value), 3)

    rows = []
    for group, count, failed, latency, tokens_in, tokens_out in totals.all():
        rated_count, rating_count, mean_rating = rated.get(group, (0, 0, None))
        events = seen.get(group, {})
        impressions = events.get("impression", 0)
        rows.append(
            StatsRow(
                key=group,
                count=count,
                failed_count=int(failed or 0),
                rated_count=rated_count,
                rating_count=rating_count,
                mean_rating=_mean(mean_rating),
                mean_latency_ms=_mean(latency),
                mean_input_tokens=_mean(tokens_in),
                mean_output_tokens=_mean(tokens_out),
                impressions=impressions,
                clicks=events.get("click", 0),
                conversions=events.get("conversion", 0),
                click_rate=_rate(events.get("click", 0), impressions),
                conversion_rate=_rate(events.get("conversion", 0), impressions),
            )
        )
    rows.sort(key=lambda r: (-r.count, r.key))
    return rows


def _rate(events: int, impressions: int) -> float | None:
    return None if impressions == 0 else round(events / impressions, 5)


async def purge_older_than(session: AsyncSession, *, days: int) -> int:
    """Erase every generation (all workspaces) created more than `days` days ago."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    result = await session.execute(delete(Generation).where(Generation.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
