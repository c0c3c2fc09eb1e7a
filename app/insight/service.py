"""Reviews in (a batch or a file), stored redacted and deduplicated, analysed as a job."""

import asyncio
import hashlib
import itertools
import json
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Literal

from pydantic import ValidationError
from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, insert_ignoring_duplicates
from app.errors import NotFound, ValidationFailed
from app.fields import FileFormat
from app.insight.analyser import Analyser, OfflineAnalyser, offline_analyser
from app.insight.llm_analyser import LLMAnalyser
from app.insight.reading import RawRow, read_rows
from app.insight.schemas import MAX_ERRORS, ImportRead, ReviewIn, RowError
from app.insight.words import is_chinese
from app.jobs import Jobs, Lease
from app.llm.registry import ModelRegistry
from app.models import Job, Product, Review, ReviewAnalysis, ReviewImport, utcnow
from app.privacy import redact_text
from app.spreadsheet import csv_lines, guard

ANALYSE_JOB = "analyse_reviews"
OFFLINE = OfflineAnalyser.name
# Rows validated per hop to a worker thread, and per INSERT (far under every database's
# limit of bound parameters).
CHUNK = 500
# Reviews analysed per step of a job: a step is one transaction and one lease renewal.
ANALYSIS_BATCH = 500
MAX_ROWS = 1_000_000
# A review dated further ahead than a clock's drift is a wrong date, not a late clock.
_FUTURE_SLACK = timedelta(days=1)
_SPACE = re.compile(r"\s+")


class _Tally:
    def __init__(self) -> None:
        self.rows = self.accepted = self.duplicates = self.refused = 0
        self.errors: list[RowError] = []
        self.problems = 0

    def refuse(self, *problems: RowError) -> None:
        self.refused += 1
        self.problems += len(problems)
        self.errors.extend(problems[: MAX_ERRORS - len(self.errors)])


async def add_reviews(
    session: AsyncSession,
    jobs: Jobs,
    *,
    workspace_id: str,
    reviews: Sequence[Any],
    analyser: str = OFFLINE,
) -> ImportRead:
    """Store a batch of reviews, each validated alone (`line` in errors is its index)."""

    async def one_chunk() -> Any:
        yield [_validated(_raw(index, item)) for index, item in enumerate(reviews)]

    return await _store(session, jobs, workspace_id, "json", one_chunk(), analyser)


async def import_reviews(
    session: AsyncSession,
    jobs: Jobs,
    *,
    workspace_id: str,
    file: IO[bytes],
    encoding: str,
    fmt: FileFormat,
    analyser: str = OFFLINE,
) -> ImportRead:
    """Store the reviews of a spooled file, reading and validating it off the event loop."""
    rows = read_rows(file, encoding, fmt)

    def next_chunk() -> list[RowError | tuple[int, ReviewIn]]:
        return [_validated(row) for row in itertools.islice(rows, CHUNK)]

    async def chunks() -> Any:
        while chunk := await asyncio.to_thread(next_chunk):
            yield chunk

    return await _store(session, jobs, workspace_id, fmt, chunks(), analyser)


def _raw(index: int, item: Any) -> RawRow | RowError:
    if isinstance(item, dict):
        return RawRow(index, item)
    message = "Each review is a JSON object."
    return RowError(line=index, external_id=None, param=None, message=message)


def _validated(row: RawRow | RowError) -> RowError | tuple[int, ReviewIn]:
    if isinstance(row, RowError):
        return row
    try:
        return row.line, ReviewIn.model_validate(row.data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        param = ".".join(str(p) for p in error["loc"]) or None
        external_id = row.data.get("external_id")
        return RowError(
            line=row.line,
            external_id=external_id if isinstance(external_id, str) else None,
            param=param,
            message=error["msg"],
        )


async def _store(
    session: AsyncSession, jobs: Jobs, workspace_id: str, fmt: str, chunks: Any, analyser: str
) -> ImportRead:
    record = ReviewImport(workspace_id=workspace_id, format=fmt, errors_json=[])
    session.add(record)
    await session.flush()
    tally = _Tally()
    async for chunk in chunks:
        reviews: list[tuple[int, ReviewIn]] = []
        for item in chunk:
            tally.rows += 1
            if tally.rows > MAX_ROWS:
                raise ValidationFailed(f"More than {MAX_ROWS} reviews; import them in parts.")
            if isinstance(item, RowError):
                tally.refuse(item)
            else:
                reviews.append(item)
        await _insert(session, workspace_id, record.id, reviews, tally)
    record.rows, record.accepted = tally.rows, tally.accepted
    record.duplicates, record.refused = tally.duplicates, tally.refused
    record.errors_json = [e.model_dump() for e in tally.errors]
    record.errors_truncated = tally.problems > len(tally.errors)
    record.updated_at = utcnow()
    job: Job | None = None
    if tally.accepted:
        job = jobs.submit(
            session,
            workspace_id=workspace_id,
            name=ANALYSE_JOB,
            import_id=record.id,
            analyser=analyser,
        )
        await session.flush()
        record.job_id = job.id
    await session.flush()
    return import_read(record, job)


async def _insert(
    session: AsyncSession,
    workspace_id: str,
    import_id: str,
    reviews: list[tuple[int, ReviewIn]],
    tally: _Tally,
) -> None:
    products = await _products(session, workspace_id, [review for _, review in reviews])
    values = []
    for line, review in reviews:
        product_id, problem = _product_of(review, products)
        if problem is not None:
            tally.refuse(RowError(line=line, external_id=review.external_id, **problem))
            continue
        if review.reviewed_at is not None and aware(review.reviewed_at) > utcnow() + _FUTURE_SLACK:
            message = "A review cannot be written in the future."
            error = RowError(
                line=line, external_id=review.external_id, param="reviewed_at", message=message
            )
            tally.refuse(error)
            continue
        values.append(_row(workspace_id, import_id, product_id, review))
    if not values:
        return
    inserted = await session.execute(
        insert_ignoring_duplicates(session, Review).returning(Review.id), values
    )
    count = len(inserted.all())
    tally.accepted += count
    tally.duplicates += len(values) - count


async def _products(
    session: AsyncSession, workspace_id: str, reviews: list[ReviewIn]
) -> dict[str, str]:
    """Product id and SKU -> product id, for the products of the workspace the rows name."""
    ids = sorted({r.product_id for r in reviews if r.product_id})
    skus = sorted({r.sku for r in reviews if r.sku})
    known: dict[str, str] = {}
    if ids:
        by_id = select(Product.id).where(Product.workspace_id == workspace_id, Product.id.in_(ids))
        known.update({pid: pid for pid in await session.scalars(by_id)})
    if skus:
        by_sku = select(Product.id, Product.sku).where(
            Product.workspace_id == workspace_id, Product.sku.in_(skus)
        )
        known.update({f"sku:{row.sku}": row.id for row in await session.execute(by_sku)})
    return known


def _product_of(
    review: ReviewIn, products: dict[str, str]
) -> tuple[str | None, dict[str, str] | None]:
    if review.product_id is None and review.sku is None:
        return None, {"param": "sku", "message": "Name the product: `sku` or `product_id`."}
    by_id = products.get(review.product_id) if review.product_id else None
    by_sku = products.get(f"sku:{review.sku}") if review.sku else None
    if review.product_id and by_id is None:
        return None, {
            "param": "product_id",
            "message": f"No product {review.product_id!r} in this workspace.",
        }
    if review.sku and by_sku is None:
        return None, {
            "param": "sku",
            "message": f"No product with SKU {review.sku!r} in this workspace.",
        }
    if by_id and by_sku and by_id != by_sku:
        return None, {"param": "sku", "message": "`sku` and `product_id` name different products."}
    return by_id or by_sku, None


def aware(moment: datetime) -> datetime:
    """The moment in UTC; naive means UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _row(
    workspace_id: str, import_id: str, product_id: str | None, review: ReviewIn
) -> dict[str, Any]:
    text = redact_text(review.text)
    title = redact_text(review.title) if review.title else None
    author = _author_hash(workspace_id, review.author) if review.author else None
    language = review.language or ("zh" if is_chinese(f"{title or ''} {text}") else "en")
    return {
        "workspace_id": workspace_id,
        "import_id": import_id,
        "product_id": product_id,
        "source": review.source,
        "external_id": review.external_id,
        "content_hash": _content_hash(product_id, author, text),
        "stars": review.stars,
        "title": title,
        "text": text,
        "language": language,
        "author_hash": author,
        "reviewed_at": aware(review.reviewed_at) if review.reviewed_at else None,
        "created_at": utcnow(),
    }


def _author_hash(workspace_id: str, author: str) -> str:
    # Keyed by the workspace: the same person's hash differs between workspaces.
    normal = _SPACE.sub(" ", author).strip().casefold()
    return hashlib.sha256(f"author\0{workspace_id}\0{normal}".encode()).hexdigest()[:32]


def _content_hash(product_id: str | None, author: str | None, text: str) -> str:
    # The same words by the same (or no named) author about the same product are one review
    # seen twice, whatever source or id each copy came with.
    normal = _SPACE.sub(" ", text).strip().casefold()
    return hashlib.sha256(f"{product_id}\0{author}\0{normal}".encode()).hexdigest()


def import_read(record: ReviewImport, job: Job | None) -> ImportRead:
    """The API view of an import: its counts and its job's state."""
    # Done when every review taken has its analysis, or when the job finished: then those
    # without one are the ones a model gave no readable answer for (`analysed` < `accepted`).
    status: Literal["analysing", "analysed", "failed"] = "analysing"
    if job is not None and job.status == "failed":
        status = "failed"
    elif record.analysed >= record.accepted or (job is not None and job.status == "succeeded"):
        status = "analysed"
    return ImportRead(
        id=record.id,
        format=record.format,
        status=status,
        rows=record.rows,
        accepted=record.accepted,
        duplicates=record.duplicates,
        refused=record.refused,
        analysed=record.analysed,
        errors=[RowError.model_validate(e) for e in record.errors_json],
        errors_truncated=record.errors_truncated,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


async def get_import(session: AsyncSession, *, workspace_id: str, import_id: str) -> ImportRead:
    """An import of the workspace, with how far its analysis got."""
    record = await session.get(ReviewImport, import_id)
    if record is None or record.workspace_id != workspace_id:
        raise NotFound(f"No review import {import_id!r}.")
    job = await session.get(Job, record.job_id) if record.job_id else None
    return import_read(record, job)


# --- analysis, as a job ------------------------------------------------------------------


def analyser_for(registry: ModelRegistry, name: str) -> Analyser:
    """The analyser a job names: `offline`, or `llm:<alias>`."""
    if name == OFFLINE:
        return offline_analyser()
    return LLMAnalyser(registry, name.removeprefix("llm:"))


async def analyse_import(
    database: Database, registry: ModelRegistry, job: Job, lease: Lease
) -> None:
    """Analyse every review of an import not analysed yet, a batch per transaction."""
    analyser = analyser_for(registry, job.payload_json.get("analyser", OFFLINE))
    await analyse_reviews(database, job.payload_json["import_id"], lease, analyser)


async def analyse_reviews(
    database: Database, import_id: str, lease: Lease, analyser: Analyser
) -> None:
    """Analyse the import's reviews with `analyser`, skipping those it analysed already (a
    resumed job); a review it gives no analysis (a model's broken answers) stays without."""
    done = exists().where(
        ReviewAnalysis.review_id == Review.id, ReviewAnalysis.analyser == analyser.name
    )
    query = (
        select(Review.id, Review.workspace_id, Review.title, Review.text, Review.language)
        .where(Review.import_id == import_id, ~done)
        .order_by(Review.id)
        .limit(ANALYSIS_BATCH)
    )
    after = ""
    while batch := await _batch(database, query.where(Review.id > after)):
        after = batch[-1].id
        texts = [(_joined(row.title, row.text, row.language), row.language) for row in batch]
        results = await analyser.analyse(texts)
        now = utcnow()
        values = [
            {
                "review_id": row.id,
                "analyser": analyser.name,
                "analyser_version": analyser.version,
                "workspace_id": row.workspace_id,
                "sentiment": result.sentiment.label,
                "score": result.sentiment.score,
                "aspects_json": [aspect.as_json() for aspect in result.aspects],
                "keywords_json": list(result.keywords),
                "created_at": now,
            }
            for row, result in zip(batch, results, strict=True)
            if result is not None
        ]
        if values:
            async with database.write_sessions.begin() as session:
                statement = insert_ignoring_duplicates(session, ReviewAnalysis)
                inserted = await session.execute(
                    statement.returning(ReviewAnalysis.review_id), values
                )
                await session.execute(
                    update(ReviewImport)
                    .where(ReviewImport.id == import_id)
                    .values(analysed=ReviewImport.analysed + len(inserted.all()), updated_at=now)
                )
        await lease.renew()


async def _batch(database: Database, query: Any) -> list[Any]:
    async with database.read_sessions() as session:
        return list((await session.execute(query)).all())


def _joined(title: str | None, text: str, language: str) -> str:
    if not title:
        return text
    return f"{title}。{text}" if language == "zh" else f"{title}. {text}"


# --- export ------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    *("id", "product_id", "source", "external_id", "stars", "title", "text", "language"),
    *("reviewed_at", "sentiment", "score", "aspects", "keywords"),
)


async def export_reviews(
    session: AsyncSession, *, workspace_id: str, product_id: str | None, fmt: FileFormat
) -> AsyncIterator[str]:
    """The workspace's reviews with their offline analysis, oldest first, as text chunks;
    in CSV every cell a spreadsheet would run as a formula is guarded."""
    if fmt == "csv":
        # The BOM makes Excel read the file as UTF-8.
        yield "\ufeff" + csv_lines([list(EXPORT_COLUMNS)])
    query = (
        select(Review, ReviewAnalysis)
        .outerjoin(
            ReviewAnalysis,
            (ReviewAnalysis.review_id == Review.id) & (ReviewAnalysis.analyser == "offline"),
        )
        .where(Review.workspace_id == workspace_id)
        .order_by(Review.id)
        .limit(CHUNK)
    )
    if product_id is not None:
        query = query.where(Review.product_id == product_id)
    after = ""
    while rows := (await session.execute(query.where(Review.id > after))).all():
        records = [_exported(review, analysis) for review, analysis in rows]
        if fmt == "csv":
            yield csv_lines([[guard(_text(r[c])) for c in EXPORT_COLUMNS] for r in records])
        else:
            yield "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        after = rows[-1][0].id


def _exported(review: Review, analysis: ReviewAnalysis | None) -> dict[str, Any]:
    return {
        "id": review.id,
        "product_id": review.product_id,
        "source": review.source,
        "external_id": review.external_id,
        "stars": review.stars,
        "title": review.title,
        "text": review.text,
        "language": review.language,
        "reviewed_at": review.reviewed_at.isoformat() if review.reviewed_at else None,
        "sentiment": analysis.sentiment if analysis else None,
        "score": analysis.score if analysis else None,
        "aspects": (
            " | ".join(f"{a['term']}: {a['polarity']}" for a in analysis.aspects_json)
            if analysis
            else None
        ),
        "keywords": " | ".join(analysis.keywords_json) if analysis else None,
    }


def _text(value: Any) -> str:
    return "" if value is None else str(value)
