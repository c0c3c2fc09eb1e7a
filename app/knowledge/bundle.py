"""The knowledge one generation is written from: a brand kit at one version, a product, an
audience (each optional), and what follows from them for the prompt, the brief and the
checks."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.checks.policy import Policy, PreferredTerm
from app.knowledge.schemas import AudienceIn, BrandKit, ProductIn
from app.search import strings_in


@dataclass(frozen=True)
class Knowledge:
    """What a brief's `brand_id`, `product_id` and `audience_id` named, as loaded."""

    brand_id: str | None = None
    brand_version: int | None = None
    kit: BrandKit | None = None
    product_id: str | None = None
    product: ProductIn | None = None
    audience_id: str | None = None
    audience: AudienceIn | None = None
    # A persona's example quotes (from the reviews it was derived from): its own words.
    audience_quotes: tuple[str, ...] = ()

    # --- the product, in the copy's language ---------------------------------------------

    def product_name(self, language: str) -> str | None:
        """The product's name in `language` (its own name when there is no translation)."""
        if self.product is None:
            return None
        local = self.product.translations.get(language)  # type: ignore[call-overload]
        return local.name if local else self.product.name

    def product_features(self, language: str) -> list[str]:
        """The product's features in `language`."""
        if self.product is None:
            return []
        local = self.product.translations.get(language)  # type: ignore[call-overload]
        return list(local.features) if local and local.features else list(self.product.features)

    def key_message(self, language: str) -> str | None:
        """What copy about the product should say, when the brief does not: its first three
        approved claims, else its first three features."""
        if self.product is None:
            return None
        claims = [c.claim for c in self.product.approved_claims]
        points = claims or self.product_features(language)
        return "; ".join(points[:3]) or None

    def reader(self) -> str | None:
        """Who the copy is for, in a line: the audience's name and description."""
        if self.audience is None:
            return None
        if self.audience.description:
            return f"{self.audience.name}: {self.audience.description}"
        return self.audience.name

    # --- the prompt ----------------------------------------------------------------------

    def template_input(self, kind: str, language: str) -> dict[str, Any]:
        """What the templates' knowledge partial shows, as plain data (only what exists)."""
        out: dict[str, Any] = {}
        if self.kit is not None:
            kit = self.kit
            out["brand_kit"] = {
                "name": kit.name,
                "voice": kit.voice.description,
                "adjectives": kit.voice.adjectives,
                "style": kit.style.model_dump(),
                "banned": kit.terms.banned,
                "preferred": [p.model_dump() for p in kit.terms.preferred],
                "trademarks": kit.terms.trademarks,
                "required": self.required(kind, language),
                "examples": [
                    e.text
                    for e in kit.examples
                    if e.language == language and e.kind in (None, kind)
                ],
                "reading_level": kit.reading_level,
            }
        if self.product is not None:
            product = self.product
            out["product_facts"] = {
                "category": product.category,
                "approved_claims": [c.claim for c in product.approved_claims],
                "forbidden_claims": product.forbidden_claims,
                "price": _price(product.price, product.currency),
                "url": product.url,
            }
        if self.audience is not None:
            reader = self.audience.model_dump(exclude={"name", "description", "language"})
            out["reader"] = {**reader, "quotes": list(self.audience_quotes)}
        return out

    # --- the checks ----------------------------------------------------------------------

    def required(self, kind: str, language: str) -> list[str]:
        """The texts the kit requires in copy of this kind and language."""
        if self.kit is None:
            return []
        return [
            r.text
            for r in self.kit.required
            if (not r.kinds or kind in r.kinds) and r.language in (None, language)
        ]

    def facts(self) -> list[str]:
        """Every fact the product states: features (each language), specs, price, claims."""
        if self.product is None:
            return []
        product = self.product
        facts = [*product.features, *(f"{k}: {v}" for k, v in product.specs.items())]
        facts += [c.claim for c in product.approved_claims]
        facts += [f for t in product.translations.values() for f in t.features]
        if (price := _price(product.price, product.currency)) is not None:
            facts.append(price)
        return facts

    def policy(self, kind: str, language: str, brief: dict[str, Any]) -> Policy:
        """The policy rules of a generation: the kit's, the product's, and the facts of the
        brief and the product."""
        kit = self.kit
        approved = tuple(c.claim for c in self.product.approved_claims) if self.product else ()
        return Policy(
            banned=tuple(kit.terms.banned) if kit else (),
            trademarks=tuple(kit.terms.trademarks) if kit else (),
            preferred=tuple(
                PreferredTerm(p.use, tuple(p.instead_of))
                for p in (kit.terms.preferred if kit else ())
            ),
            required=tuple(self.required(kind, language)),
            facts=tuple(_unique([*strings_in(brief), *self.facts()])),
            facts_binding=self.product is not None,
            forbidden=tuple(self.product.forbidden_claims) if self.product else (),
            approved=approved,
            quotes=self.audience_quotes,
        )


def _price(price: Decimal | None, currency: str | None) -> str | None:
    if price is None:
        return None
    return f"{price} {currency}" if currency else str(price)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
