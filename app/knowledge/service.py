"""Brand kits, products and audiences: workspace-scoped, versioned or revised, archived
rather than deleted once a generation used them.

Another workspace's record answers as if it did not exist (NotFound). Services add and
flush; the request's session commits.
"""

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound, ValidationFailed
from app.knowledge.bundle import Knowledge
from app.knowledge.schemas import AudienceIn, BrandKit, ProductIn
from app.models import Audience, Brand, BrandVersion, Generation, Product, utcnow

PAGE_LIMIT = 100
# A version number taken by a concurrent update is retried with the next one.
VERSION_ATTEMPTS = 5


@dataclass(frozen=True)
class BrandAtVersion:
    """A brand with the kit of one of its versions."""

    brand: Brand
    version: int
    kit: BrandKit

    def as_read(self) -> dict[str, Any]:
        """The fields of BrandRead."""
        return {**_lifecycle(self.brand), "version": self.version, "kit": self.kit}


# --- brands ------------------------------------------------------------------------------


async def create_brand(session: AsyncSession, workspace_id: str, kit: BrandKit) -> BrandAtVersion:
    """A new kit at version 1."""
    brand = Brand(workspace_id=workspace_id, name=kit.name, version=1)
    session.add(brand)
    await session.flush()
    session.add(BrandVersion(brand_id=brand.id, version=1, kit_json=kit.model_dump(mode="json")))
    await session.flush()
    return BrandAtVersion(brand, 1, kit)


async def _brand(session: AsyncSession, workspace_id: str, brand_id: str) -> Brand:
    return await _owned(session, Brand, workspace_id, brand_id)


async def get_brand(
    session: AsyncSession, workspace_id: str, brand_id: str, version: int | None = None
) -> BrandAtVersion:
    """A kit at `version` (default: its newest), in one query."""
    wanted = BrandVersion.version == (version if version else Brand.version)
    row = (
        await session.execute(
            select(Brand, BrandVersion.version, BrandVersion.kit_json)
            .outerjoin(BrandVersion, (BrandVersion.brand_id == Brand.id) & wanted)
            .where(Brand.id == brand_id, Brand.workspace_id == workspace_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"No brand {brand_id!r}.", param="brand_id")
    brand, found, kit = row
    if found is None:
        raise NotFound(f"Brand {brand_id!r} has no version {version}.", param="version")
    return BrandAtVersion(brand, found, BrandKit.model_validate(kit))


async def update_brand(
    session: AsyncSession, workspace_id: str, brand_id: str, kit: BrandKit
) -> BrandAtVersion:
    """Write `kit` as the next version. Concurrent updates each get their own version: the
    unique (brand, version) key refuses the second writer of a number, which takes the next."""
    brand = await _brand(session, workspace_id, brand_id)
    if brand.archived_at is not None:
        raise Conflict(f"Brand {brand_id!r} is archived.", param="brand_id")
    body = kit.model_dump(mode="json")
    for _ in range(VERSION_ATTEMPTS):
        latest = await session.scalar(
            select(func.max(BrandVersion.version)).where(BrandVersion.brand_id == brand.id)
        )
        version = (latest or 0) + 1
        try:
            async with session.begin_nested():
                session.add(BrandVersion(brand_id=brand.id, version=version, kit_json=body))
        except IntegrityError:
            continue
        brand.version = max(brand.version, version)
        brand.name = kit.name
        brand.updated_at = utcnow()
        await session.flush()
        return BrandAtVersion(brand, version, kit)
    raise Conflict(f"Brand {brand_id!r} is being changed by others; try again.")


async def brand_versions(
    session: AsyncSession, workspace_id: str, brand_id: str
) -> list[tuple[int, str, Any]]:
    """Every version of a kit: (version, name, created_at), oldest first."""
    brand = await _brand(session, workspace_id, brand_id)
    rows = await session.execute(
        select(BrandVersion.version, BrandVersion.kit_json, BrandVersion.created_at)
        .where(BrandVersion.brand_id == brand.id)
        .order_by(BrandVersion.version)
    )
    return [(version, kit["name"], created) for version, kit, created in rows]


async def list_brands(
    session: AsyncSession, workspace_id: str, *, after: str | None, limit: int, archived: bool
) -> list[BrandAtVersion]:
    """Kits at their newest version, oldest kit first."""
    query = select(Brand, BrandVersion.kit_json).join(
        BrandVersion, (BrandVersion.brand_id == Brand.id) & (BrandVersion.version == Brand.version)
    )
    query = _page(query, Brand, workspace_id, after, limit, archived)
    rows = await session.execute(query)
    return [
        BrandAtVersion(brand, brand.version, BrandKit.model_validate(kit)) for brand, kit in rows
    ]


# --- products ----------------------------------------------------------------------------


def product_columns(product: ProductIn) -> dict[str, Any]:
    """A product's columns: SKU, name and brand apart, every other fact in facts_json."""
    facts = product.model_dump(mode="json", exclude={"sku", "name", "brand_id"})
    return {
        "sku": product.sku,
        "name": product.name,
        "brand_id": product.brand_id,
        "facts_json": facts,
    }


def product_fields(row: Any) -> dict[str, Any]:
    """A stored product as ProductIn takes it: the inverse of product_columns (`row` is a
    Product or a row of those four columns)."""
    return {"sku": row.sku, "name": row.name, "brand_id": row.brand_id, **row.facts_json}


def product_read(row: Product) -> dict[str, Any]:
    """The fields of ProductRead."""
    return {**product_fields(row), **_lifecycle(row), "revision": row.revision}


async def check_brand_id(session: AsyncSession, workspace_id: str, brand_id: str | None) -> None:
    """A product's brand must be the caller's."""
    if brand_id is not None:
        await _brand(session, workspace_id, brand_id)


async def create_product(session: AsyncSession, workspace_id: str, product: ProductIn) -> Product:
    """A new product; a SKU the workspace already has is a conflict."""
    await check_brand_id(session, workspace_id, product.brand_id)
    row = Product(workspace_id=workspace_id, revision=1, **product_columns(product))
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(
            f"SKU {product.sku!r} already exists; update that product instead.", param="sku"
        ) from None
    return row


async def get_product(session: AsyncSession, workspace_id: str, product_id: str) -> Product:
    """The caller's product."""
    return await _owned(session, Product, workspace_id, product_id)


async def update_product(
    session: AsyncSession, workspace_id: str, product_id: str, product: ProductIn
) -> Product:
    """Replace a product's facts; its revision counts the changes."""
    row = await get_product(session, workspace_id, product_id)
    await check_brand_id(session, workspace_id, product.brand_id)
    for name, value in product_columns(product).items():
        setattr(row, name, value)
    row.revision += 1
    row.updated_at = utcnow()
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"SKU {product.sku!r} belongs to another product.", param="sku") from None
    return row


async def list_products(
    session: AsyncSession,
    workspace_id: str,
    *,
    after: str | None,
    limit: int,
    archived: bool,
    brand_id: str | None = None,
    sku: str | None = None,
) -> list[Product]:
    """Products, oldest first."""
    query = _page(select(Product), Product, workspace_id, after, limit, archived)
    if brand_id is not None:
        query = query.where(Product.brand_id == brand_id)
    if sku is not None:
        query = query.where(Product.sku == sku)
    return list(await session.scalars(query))


# --- audiences ---------------------------------------------------------------------------


def audience_read(row: Audience) -> dict[str, Any]:
    """The fields of AudienceRead."""
    return {
        **row.profile_json,
        **_lifecycle(row),
        "name": row.name,
        "source": row.source,
        "revision": row.revision,
    }


async def create_audience(
    session: AsyncSession, workspace_id: str, audience: AudienceIn, source: str = "manual"
) -> Audience:
    """A new audience."""
    row = Audience(
        workspace_id=workspace_id,
        name=audience.name,
        profile_json=audience.model_dump(mode="json", exclude={"name"}),
        source=source,
        revision=1,
    )
    session.add(row)
    await session.flush()
    return row


async def get_audience(session: AsyncSession, workspace_id: str, audience_id: str) -> Audience:
    """The caller's audience."""
    return await _owned(session, Audience, workspace_id, audience_id)


async def update_audience(
    session: AsyncSession, workspace_id: str, audience_id: str, audience: AudienceIn
) -> Audience:
    """Replace an audience's profile."""
    row = await get_audience(session, workspace_id, audience_id)
    row.name = audience.name
    # Evidence of a persona derived from reviews stays with it whatever people edit.
    evidence = {"evidence": row.profile_json["evidence"]} if "evidence" in row.profile_json else {}
    row.profile_json = {**audience.model_dump(mode="json", exclude={"name"}), **evidence}
    row.revision += 1
    row.updated_at = utcnow()
    await session.flush()
    return row


async def list_audiences(
    session: AsyncSession, workspace_id: str, *, after: str | None, limit: int, archived: bool
) -> list[Audience]:
    """Audiences, oldest first."""
    query = _page(select(Audience), Audience, workspace_id, after, limit, archived)
    return list(await session.scalars(query))


# --- shared ------------------------------------------------------------------------------

Row = TypeVar("Row", Brand, Product, Audience)


async def _owned(session: AsyncSession, table: type[Row], workspace_id: str, record_id: str) -> Row:
    """The caller's record; another workspace's answers as if it did not exist."""
    row = await session.scalar(
        select(table).where(table.id == record_id, table.workspace_id == workspace_id)
    )
    if row is None:
        what = table.__tablename__
        raise NotFound(f"No {what} {record_id!r}.", param=f"{what}_id")
    return row


def _lifecycle(row: Brand | Product | Audience) -> dict[str, Any]:
    """The fields every read of a knowledge record carries."""
    return {
        "id": row.id,
        "archived_at": row.archived_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _page(
    query: Any, table: type[Row], workspace_id: str, after: str | None, limit: int, archived: bool
) -> Any:
    query = query.where(table.workspace_id == workspace_id)
    if not archived:
        query = query.where(table.archived_at.is_(None))
    if after is not None:
        query = query.where(table.id > after)
    return query.order_by(table.id).limit(limit)


_USED_BY = {
    Brand: Generation.brand_id,
    Product: Generation.product_id,
    Audience: Generation.audience_id,
}


async def remove(session: AsyncSession, row: Brand | Product | Audience) -> bool:
    """Delete a record no generation used; archive one that was used (its history must stay
    readable). True when it was archived."""
    used = await session.scalar(select(exists().where(_USED_BY[type(row)] == row.id)))
    if isinstance(row, Brand):
        used = used or await session.scalar(select(exists().where(Product.brand_id == row.id)))
    if used:
        if row.archived_at is None:
            row.archived_at = row.updated_at = utcnow()
        await session.flush()
        return True
    await session.delete(row)
    await session.flush()
    return False


async def brand_row(session: AsyncSession, workspace_id: str, brand_id: str) -> Brand:
    """The caller's brand row (for deletion)."""
    return await _brand(session, workspace_id, brand_id)


# --- a generation's knowledge ------------------------------------------------------------


def _usable(row: Brand | Product | Audience, what: str, param: str) -> None:
    if row.archived_at is not None:
        raise ValidationFailed(
            f"The {what} {row.id!r} is archived; it writes no new copy.", param=param
        )


async def load_knowledge(
    session: AsyncSession,
    workspace_id: str,
    *,
    brand_id: str | None,
    product_id: str | None,
    audience_id: str | None,
) -> Knowledge:
    """The brand kit (newest version), product and audience a brief names, checked to be
    the caller's and in use. A product's own brand is the kit when the brief names none."""
    product = None
    if product_id is not None:
        row = await get_product(session, workspace_id, product_id)
        _usable(row, "product", "product_id")
        product = ProductIn.model_validate(product_fields(row))
        brand_id = brand_id or row.brand_id
    kit, version = None, None
    if brand_id is not None:
        at = await get_brand(session, workspace_id, brand_id)
        _usable(at.brand, "brand", "brand_id")
        kit, version = at.kit, at.version
    audience = None
    quotes: tuple[str, ...] = ()
    if audience_id is not None:
        arow = await get_audience(session, workspace_id, audience_id)
        _usable(arow, "audience", "audience_id")
        profile = dict(arow.profile_json)
        # A persona's evidence is its provenance, not part of the card; its quotes are the
        # customers' own words, which the prompt shows.
        evidence = profile.pop("evidence", None) or {}
        quotes = tuple(str(q["text"]) for q in evidence.get("quotes", ()) if q.get("text"))
        audience = AudienceIn.model_validate({**profile, "name": arow.name})
    return Knowledge(
        brand_id=brand_id,
        brand_version=version,
        kit=kit,
        product_id=product_id,
        product=product,
        audience_id=audience_id,
        audience=audience,
        audience_quotes=quotes,
    )
