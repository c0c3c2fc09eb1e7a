"""Training a workspace's score model from its ratings, and the models generation uses."""

import asyncio
import time
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import Conflict
from app.experiments import scoring
from app.models import Generation, Rating, ScoreModel, Variant, VariantDay

# Fewer rated variants than this say too little to learn from, or to grade what was learnt.
MIN_RATED = 30
MIN_GENERATIONS = 5
# A variant's click rate says something once it was shown this often.
MIN_IMPRESSIONS = 20
CACHE_TTL_S = 30.0

_SUBJECT_COLUMNS = (
    Generation.kind,
    Generation.language,
    Generation.template_version,
    Generation.model_alias,
    Generation.brand_id,
    Generation.audience_id,
    Variant.text,
    Variant.checks_json,
    Variant.score,
    Generation.input_json,
)
# Where each query's own columns start, after the subject's.
_AFTER_SUBJECT = len(_SUBJECT_COLUMNS)


def _subject(row: Any) -> scoring.Subject:
    kind, language, template, model, brand, audience, text, checks, check_score, brief = row[
        :_AFTER_SUBJECT
    ]
    keywords = (brief or {}).get("keywords") or []
    return scoring.Subject(
        kind,
        language,
        template,
        model,
        brand,
        audience,
        text,
        checks or [],
        check_score,
        keywords=[k for k in keywords if isinstance(k, str)],
    )


async def train_score_model(session: AsyncSession, workspace_id: str) -> ScoreModel:
    """Train on every rated variant of the workspace and store the model as a new version."""
    # Aggregated apart and joined: the subject's JSON column cannot be grouped on PostgreSQL.
    means = (
        select(Rating.variant_id, func.avg(Rating.score).label("mean"))
        .group_by(Rating.variant_id)
        .subquery()
    )
    rated = (
        await session.execute(
            select(*_SUBJECT_COLUMNS, means.c.mean, Generation.id)
            .join(Generation, Generation.id == Variant.generation_id)
            .join(means, means.c.variant_id == Variant.id)
            .where(Generation.workspace_id == workspace_id)
        )
    ).all()
    generations = [row[_AFTER_SUBJECT + 1] for row in rated]
    if len(rated) < MIN_RATED or len(set(generations)) < MIN_GENERATIONS:
        raise Conflict(
            f"The workspace has {len(rated)} rated variants in {len(set(generations))} "
            f"generations; a score model needs at least {MIN_RATED} in {MIN_GENERATIONS} "
            "(rate more with PUT /v1/variants/{id}/rating)."
        )
    impressions = func.sum(case((VariantDay.type == "impression", VariantDay.events), else_=0))
    shown_often = (
        select(
            VariantDay.variant_id,
            impressions.label("impressions"),
            func.sum(case((VariantDay.type == "click", VariantDay.events), else_=0)).label(
                "clicks"
            ),
        )
        .where(VariantDay.workspace_id == workspace_id)
        .group_by(VariantDay.variant_id)
        .having(impressions >= MIN_IMPRESSIONS)
        .subquery()
    )
    shown = await session.execute(
        select(*_SUBJECT_COLUMNS, shown_often.c.impressions, shown_often.c.clicks)
        .join(Generation, Generation.id == Variant.generation_id)
        .join(shown_often, shown_often.c.variant_id == Variant.id)
    )
    clicked = [
        scoring.Clicks(_subject(row), int(row[_AFTER_SUBJECT]), int(row[_AFTER_SUBJECT + 1]))
        for row in shown
    ]
    report = await asyncio.to_thread(
        scoring.train,
        [_subject(row) for row in rated],
        [float(row[_AFTER_SUBJECT]) for row in rated],
        generations,
        clicked,
    )
    version = (
        await session.scalar(
            select(func.max(ScoreModel.version)).where(ScoreModel.workspace_id == workspace_id)
        )
        or 0
    ) + 1
    model = ScoreModel(
        workspace_id=workspace_id,
        version=version,
        rated_variants=len(rated),
        held_out=report.held_out,
        spearman=report.spearman,
        baseline_spearman=report.baseline_spearman,
        click_auc=report.click_auc,
        click_variants=report.click_variants,
        ranks=report.ranks,
        weights_json=report.score.as_json(),
    )
    session.add(model)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("Another training of this workspace's model finished first.") from exc
    return model


async def list_score_models(session: AsyncSession, workspace_id: str) -> list[ScoreModel]:
    """The workspace's models, newest first."""
    return list(
        await session.scalars(
            select(ScoreModel)
            .where(ScoreModel.workspace_id == workspace_id)
            .order_by(ScoreModel.version.desc())
            .limit(100)
        )
    )


class Scorers:
    """Each workspace's newest score model, as generation applies it (kept for 30 s)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._cache: dict[str, tuple[tuple[scoring.LinearScore, bool] | None, float]] = {}

    async def get(self, workspace_id: str) -> tuple[scoring.LinearScore, bool] | None:
        """The newest model and whether it ranks variants; None before any was trained."""
        cached = self._cache.get(workspace_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        async with self._database.read_sessions() as session:
            row = await session.scalar(
                select(ScoreModel)
                .where(ScoreModel.workspace_id == workspace_id)
                .order_by(ScoreModel.version.desc())
                .limit(1)
            )
        found = (
            None if row is None else (scoring.LinearScore.from_json(row.weights_json), row.ranks)
        )
        self._cache[workspace_id] = (found, time.monotonic() + CACHE_TTL_S)
        return found

    def forget(self, workspace_id: str) -> None:
        """Read the workspace's model again next time (it trained a new one here)."""
        self._cache.pop(workspace_id, None)
