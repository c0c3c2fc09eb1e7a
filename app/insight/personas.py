"""Personas from reviews: groups of reviewers by what they value and what they complain
about, each written up as an audience card (stored as an audience people can edit).

A review is its aspects with their polarity ("+grip", "-laces"); groups come from
app/insight/clusters.py. A group's needs are the aspects its members praise most, its pains
the ones they criticise most, its objections the pains of its low-star reviews, its words the
keywords its members use most. The name and summary are written from those by rule (a model
can rewrite them; people can edit them): the card says which reviews it came from.
"""

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Language
from app.errors import ValidationFailed
from app.insight.analyser import offline_analyser
from app.insight.clusters import cluster
from app.insight.insights import Row, Scope, load
from app.knowledge import service as knowledge
from app.knowledge.schemas import AudienceIn
from app.models import Audience, utcnow

MAX_PERSONAS = 6
MIN_REVIEWS = 20
EVIDENCE_IDS = 100
LIST_ITEMS = 5


def _bag(row: Row) -> list[str]:
    return [
        f"{'+' if a['polarity'] == 'positive' else '-'}{a['term']}"
        for a in row.aspects
        if a["polarity"] != "neutral"
    ]


def _top(counter: Counter[str], n: int = LIST_ITEMS) -> list[str]:
    return [term for term, _ in counter.most_common(n)]


def _card(
    members: Sequence[Row], everyone: int, language: Language, number: int
) -> tuple[AudienceIn, dict[str, Any]]:
    praised: Counter[str] = Counter()
    criticised: Counter[str] = Counter()
    objections: Counter[str] = Counter()
    said: Counter[str] = Counter()
    for row in members:
        for aspect in row.aspects:
            if aspect["polarity"] == "positive":
                praised[aspect["term"]] += 1
            elif aspect["polarity"] == "negative":
                criticised[aspect["term"]] += 1
                if row.stars is not None and row.stars <= 2:
                    objections[aspect["term"]] += 1
        said.update(row.keywords)
    needs, pains = _top(praised), _top(criticised)
    share = len(members) / everyone
    if language == "zh":
        focus = "、".join((needs or pains)[:2]) or f"第{number}组"
        name = f"看重{focus}的买家"
        summary = f"占评论的{share:.0%}。" + (f"称赞{'、'.join(needs[:3])}" if needs else "")
        summary += (f"；抱怨{'、'.join(pains[:3])}" if pains else "") + "。"
    else:
        focus = " and ".join((needs or pains)[:2]) or f"group {number}"
        name = f"Reviewers who care about {focus}"
        summary = f"{share:.0%} of reviews." + (
            f" They praise {', '.join(needs[:3])}" if needs else ""
        )
        summary += (f"; they complain about {', '.join(pains[:3])}" if pains else "") + "."
    card = AudienceIn(
        name=name[:200],
        description=summary[:2000],
        language=language,
        needs=[n[:200] for n in needs],
        pains=[p[:200] for p in pains],
        objections=[o[:200] for o in _top(objections)],
        words_they_use=[w[:80] for w in _top(said, 12)],
    )
    evidence = {
        "share": round(share, 4),
        "reviews": len(members),
        "review_ids": [r.id for r in members[:EVIDENCE_IDS]],
        "quotes": [
            {"review_id": r.id, "text": r.text[:240], "stars": r.stars} for r in members[:3]
        ],
    }
    return card, evidence


async def derive_personas(
    session: AsyncSession,
    *,
    workspace_id: str,
    scope: Scope,
    language: Language,
    since: datetime | None = None,
    max_personas: int = MAX_PERSONAS,
) -> list[Audience]:
    """Group the scope's reviews in `language` into personas and store each as an audience."""
    rows, _ = await load(session, workspace_id, scope, since, utcnow())
    rows = [r for r in rows if _is_language(r, language)]
    if len(rows) < MIN_REVIEWS:
        raise ValidationFailed(
            f"{len(rows)} analysed reviews in {language} here; personas need at least "
            f"{MIN_REVIEWS}.",
            param="product_id",
        )
    groups = await asyncio.to_thread(cluster, [_bag(r) for r in rows], cap=max_personas)
    if not groups:
        raise ValidationFailed("These reviews name no aspects to group them by.")
    audiences = []
    version = offline_analyser().version
    for number, group in enumerate(groups, start=1):
        members = [rows[i] for i in group.central] + [
            rows[i] for i in group.members if i not in set(group.central)
        ]
        card, evidence = _card(members, len(rows), language, number)
        audience = await knowledge.create_audience(session, workspace_id, card, source="reviews")
        audience.profile_json = {
            **audience.profile_json,
            "evidence": {
                **evidence,
                "scope": scope.as_dict(),
                "analyser_version": version,
                "derived_at": utcnow().isoformat(),
            },
        }
        audiences.append(audience)
    await session.flush()
    return audiences


def _is_language(row: Row, language: str) -> bool:
    # Rows carry no language column: the analysis found terms in the language's script.
    from app.insight.words import is_chinese

    return is_chinese(row.text) == (language == "zh")
