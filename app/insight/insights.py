"""GET /v1/insights: what the analysed reviews of a product, category or brand say."""

import asyncio
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ValidationFailed
from app.insight.analyser import OfflineAnalyser
from app.insight.clusters import cluster
from app.insight.schemas import (
    AspectSummary,
    InsightsRead,
    PeriodChange,
    Quote,
    SentimentBucket,
    StarsAgainstText,
    TopicRead,
)
from app.models import Product, Review, ReviewAnalysis, utcnow

Bucket = Literal["day", "week"]
MAX_TOPICS = 8
# The most recent reviews a request reads: topics for more than this many are a job, not a
# page view (docs/insight.md has the times).
MAX_REVIEWS = 100_000
QUOTES = 3
ASPECTS = 10
QUOTE_CHARS = 240


@dataclass(frozen=True)
class Scope:
    """Whose reviews: one product, the products of a category, or of a brand."""

    product_id: str | None = None
    category: str | None = None
    brand_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """For the answer."""
        return {"product_id": self.product_id, "category": self.category, "brand_id": self.brand_id}


@dataclass(frozen=True)
class Row:
    """One analysed review, as insights need it."""

    id: str
    text: str
    language: str
    stars: int | None
    at: datetime
    sentiment: str
    score: float
    aspects: list[dict[str, Any]]
    keywords: list[str]


def reviews_query(workspace_id: str, scope: Scope, analyser: str) -> Select[Any]:
    """The workspace's reviews in scope, each with its offline analysis (when it has one)."""
    at = func.coalesce(Review.reviewed_at, Review.created_at)
    query = (
        select(
            Review.id,
            Review.text,
            Review.language,
            Review.stars,
            at.label("at"),
            ReviewAnalysis.sentiment,
            ReviewAnalysis.score,
            ReviewAnalysis.aspects_json,
            ReviewAnalysis.keywords_json,
        )
        .outerjoin(
            ReviewAnalysis,
            (ReviewAnalysis.review_id == Review.id) & (ReviewAnalysis.analyser == analyser),
        )
        .where(Review.workspace_id == workspace_id)
    )
    if scope.product_id is not None:
        query = query.where(Review.product_id == scope.product_id)
    elif scope.category is not None or scope.brand_id is not None:
        products = select(Product.id).where(Product.workspace_id == workspace_id)
        if scope.brand_id is not None:
            products = products.where(Product.brand_id == scope.brand_id)
        if scope.category is not None:
            products = products.where(Product.facts_json["category"].as_string() == scope.category)
        query = query.where(Review.product_id.in_(products))
    return query


async def load(
    session: AsyncSession,
    workspace_id: str,
    scope: Scope,
    since: datetime | None,
    until: datetime,
    analyser: str = OfflineAnalyser.name,
) -> tuple[list[Row], int]:
    """The analysed reviews in scope and range, newest first (at most MAX_REVIEWS), and how
    many reviews there are in all (analysed or not)."""
    at = func.coalesce(Review.reviewed_at, Review.created_at)
    query = reviews_query(workspace_id, scope, analyser).where(at < until)
    if since is not None:
        query = query.where(at >= since)
    result = await session.execute(query.order_by(at.desc()).limit(MAX_REVIEWS))
    rows, total = [], 0
    for r in result:
        total += 1
        if r.sentiment is None:
            continue
        moment = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
        analysis = (r.sentiment, r.score, r.aspects_json, r.keywords_json)
        rows.append(Row(r.id, r.text, r.language, r.stars, moment, *analysis))
    return rows, total


async def insights(
    session: AsyncSession,
    *,
    workspace_id: str,
    scope: Scope,
    since: datetime | None,
    until: datetime | None,
    bucket: Bucket,
    analyser: str = OfflineAnalyser.name,
) -> InsightsRead:
    """Sentiment over time, praised and criticised aspects, topics, stars against text, and
    what changed against the period before."""
    until = until or utcnow()
    if since is not None and since >= until:
        raise ValidationFailed("`since` must be before `until`.", param="since")
    rows, total = await load(session, workspace_id, scope, since, until, analyser)
    # Clustering is CPU work: off the event loop.
    topics = await asyncio.to_thread(_topics, rows, bucket)
    change = None
    if since is not None:
        try:
            previous_since = since - (until - since)
        except OverflowError:  # a range reaching back near year 1: the period before starts there
            previous_since = datetime.min.replace(tzinfo=UTC)
        before, _ = await load(session, workspace_id, scope, previous_since, since, analyser)
        change = _change(rows, before, previous_since)
    praised, criticised = _aspects(rows)
    labels = Counter(r.sentiment for r in rows)
    stars = [r.stars for r in rows if r.stars is not None]
    return InsightsRead(
        scope=scope.as_dict(),
        since=since,
        until=until,
        reviews=total,
        analysed=len(rows),
        mean_stars=round(sum(stars) / len(stars), 2) if stars else None,
        sentiment={label: labels.get(label, 0) for label in ("positive", "neutral", "negative")},
        sentiment_over_time=_over_time(rows, bucket),
        praised=praised,
        criticised=criticised,
        topics=topics,
        stars_against_text=_stars_against_text(rows),
        change=change,
    )


def bucket_start(moment: datetime, bucket: Bucket) -> str:
    """The ISO date of the day, or of the Monday of the week, a moment falls in."""
    day = moment.astimezone(UTC).date()
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    return day.isoformat()


def _over_time(rows: Sequence[Row], bucket: Bucket) -> list[SentimentBucket]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[bucket_start(row.at, bucket)].append(row)
    buckets = []
    for start in sorted(groups):
        members = groups[start]
        labels = Counter(r.sentiment for r in members)
        buckets.append(
            SentimentBucket(
                start=start,
                reviews=len(members),
                positive=labels["positive"],
                neutral=labels["neutral"],
                negative=labels["negative"],
                mean_score=round(sum(r.score for r in members) / len(members), 4),
            )
        )
    return buckets


def _quote(row: Row, text: str | None = None) -> Quote:
    return Quote(review_id=row.id, text=(text or row.text)[:QUOTE_CHARS], stars=row.stars)


def _aspects(rows: Sequence[Row]) -> tuple[list[AspectSummary], list[AspectSummary]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    quotes: dict[tuple[str, str], list[Quote]] = defaultdict(list)
    for row in rows:
        for aspect in row.aspects:
            term, polarity = aspect["term"], aspect["polarity"]
            counts[term][polarity] += 1
            said = quotes[(term, polarity)]
            if len(said) < QUOTES:
                said.append(_quote(row, aspect.get("quote")))

    def summary(term: str, polarity: str) -> AspectSummary:
        c = counts[term]
        return AspectSummary(
            term=term,
            mentions=sum(c.values()),
            positive=c["positive"],
            negative=c["negative"],
            quotes=quotes[(term, polarity)],
        )

    # An aspect named once is noise; at scale, the most named each way.
    named = [t for t, c in counts.items() if sum(c.values()) >= 2]
    praised = sorted(
        (t for t in named if counts[t]["positive"]), key=lambda t: -counts[t]["positive"]
    )
    criticised = sorted(
        (t for t in named if counts[t]["negative"]), key=lambda t: -counts[t]["negative"]
    )
    return (
        [summary(t, "positive") for t in praised[:ASPECTS]],
        [summary(t, "negative") for t in criticised[:ASPECTS]],
    )


def _topics(rows: Sequence[Row], bucket: Bucket) -> list[TopicRead]:
    bags = [[*row.keywords, *(a["term"] for a in row.aspects)] for row in rows]
    topics = []
    for group in cluster(bags, cap=MAX_TOPICS):
        members = [rows[i] for i in group.members]
        labels = Counter(r.sentiment for r in members)
        trend = Counter(bucket_start(r.at, bucket) for r in members)
        topics.append(
            TopicRead(
                label=" / ".join(group.terms[:3]),
                terms=group.terms,
                reviews=len(members),
                share=round(len(members) / len(rows), 4),
                sentiment={k: labels.get(k, 0) for k in ("positive", "neutral", "negative")},
                quotes=[_quote(rows[i]) for i in group.central[:QUOTES]],
                trend=[{"start": s, "reviews": trend[s]} for s in sorted(trend)],
            )
        )
    return topics


def _stars_against_text(rows: Sequence[Row]) -> StarsAgainstText:
    matrix: dict[str, dict[str, int]] = {}
    high_negative: list[Quote] = []
    low_positive: list[Quote] = []
    for row in rows:
        if row.stars is None:
            continue
        cell = matrix.setdefault(str(row.stars), {"positive": 0, "neutral": 0, "negative": 0})
        cell[row.sentiment] += 1
        if row.stars >= 4 and row.sentiment == "negative" and len(high_negative) < QUOTES:
            high_negative.append(_quote(row))
        if row.stars <= 2 and row.sentiment == "positive" and len(low_positive) < QUOTES:
            low_positive.append(_quote(row))
    return StarsAgainstText(
        matrix=dict(sorted(matrix.items())),
        high_stars_negative_text=high_negative,
        low_stars_positive_text=low_positive,
    )


def _negative_shares(rows: Sequence[Row]) -> dict[str, float]:
    mentions: Counter[str] = Counter()
    negative: Counter[str] = Counter()
    for row in rows:
        for aspect in row.aspects:
            mentions[aspect["term"]] += 1
            negative[aspect["term"]] += aspect["polarity"] == "negative"
    return {t: negative[t] / n for t, n in mentions.items() if n >= 2}


def _change(now: Sequence[Row], before: Sequence[Row], previous_since: datetime) -> PeriodChange:
    def mean(rows: Sequence[Row]) -> float | None:
        return sum(r.score for r in rows) / len(rows) if rows else None

    def negative_share(rows: Sequence[Row]) -> float | None:
        return sum(r.sentiment == "negative" for r in rows) / len(rows) if rows else None

    def delta(a: float | None, b: float | None) -> float | None:
        return round(a - b, 4) if a is not None and b is not None else None

    shares_now, shares_before = _negative_shares(now), _negative_shares(before)
    rising = sorted(
        (t for t in shares_now if shares_now[t] > shares_before.get(t, 0.0)),
        key=lambda t: -(shares_now[t] - shares_before.get(t, 0.0)),
    )
    return PeriodChange(
        previous_since=previous_since,
        previous_reviews=len(before),
        reviews_change=len(now) - len(before),
        mean_score_change=delta(mean(now), mean(before)),
        negative_share_change=delta(negative_share(now), negative_share(before)),
        aspects_more_criticised=rising[:ASPECTS],
    )
