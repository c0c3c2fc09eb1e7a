"""The checks every variant of every kind runs, whatever its format: advertising law, the
brand kit's rules, and the claims the product's facts support.

A `Policy` is plain data, built from the brief and the brand kit, product and audience it
names (app/knowledge/bundle.py), so `POST /v1/checks` runs the same rules on pasted text.
"""

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.checks import CheckResult
from app.checks.ad_law import absolute_claims
from app.checks.claims import check_claims
from app.checks.discrimination import discriminatory_terms
from app.checks.text import shared_phrase


@dataclass(frozen=True)
class PreferredTerm:
    """Write `use`, not any of `instead_of`."""

    use: str
    instead_of: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """What a text must respect beyond its kind's format and limits."""

    banned: tuple[str, ...] = ()
    trademarks: tuple[str, ...] = ()
    preferred: tuple[PreferredTerm, ...] = ()
    required: tuple[str, ...] = ()
    # The facts figures in the copy must come from: the brief's and the product's.
    facts: tuple[str, ...] = ()
    # A product was named: an unsupported figure fails the text (else it is flagged only).
    facts_binding: bool = False
    forbidden: tuple[str, ...] = ()
    # Approved claims: an absolute they carry ("world's first") is the product's to make.
    approved: tuple[str, ...] = ()
    # Customers' own words the prompt showed (a persona's quotes): for the writer to hear,
    # never to copy.
    quotes: tuple[str, ...] = ()


@functools.lru_cache(maxsize=4096)
def _term(term: str) -> re.Pattern[str]:
    """A term matched case-insensitively; a Latin one as a whole word ("cheap" is not found
    in "cheaper"), a Chinese one as written. Cached: a kit's terms recur in every variant."""
    escaped = re.escape(term)
    return re.compile(rf"(?<!\w){escaped}(?!\w)" if term.isascii() else escaped, re.IGNORECASE)


def _found(text: str, terms: Sequence[str]) -> list[str]:
    return [m.group(0) for t in terms if (m := _term(t).search(text))]


def _result(name: str, hits: Sequence[str], *, hard: bool, what: str) -> CheckResult:
    if not hits:
        return CheckResult(name, True, hard=hard)
    quoted = ", ".join(f'"{h}"' for h in hits)
    return CheckResult(name, False, hard=hard, detail=f"{what}: {quoted}", span=hits[0])


def ad_law(text: str, approved: Sequence[str] = ()) -> CheckResult:
    """No absolute or unprovable claims, unless the product's approved claims make them."""
    allowed = " ".join(approved).casefold()
    claims = [c for c in absolute_claims(text) if c.casefold() not in allowed]
    return _result("ad_law", claims, hard=True, what="absolute claims")


def banned_terms(text: str, banned: Sequence[str]) -> CheckResult:
    """None of the brand's banned terms."""
    return _result("brand_banned", _found(text, banned), hard=True, what="banned by the brand")


def required_elements(text: str, required: Sequence[str]) -> CheckResult:
    """Every element the brand requires for this kind, as written."""
    folded = text.casefold()
    missing = [r for r in required if r.casefold() not in folded]
    if not missing:
        return CheckResult("required_element", True, hard=True)
    quoted = ", ".join(f'"{m}"' for m in missing)
    return CheckResult("required_element", False, hard=True, detail=f"missing: {quoted}")


def trademarks(text: str, spellings: Sequence[str]) -> CheckResult:
    """Trademarks written exactly: "iPhone", not "Iphone" or "i-Phone"."""
    wrong = [
        m.group(0) for mark in spellings for m in _loose(mark).finditer(text) if m.group(0) != mark
    ]
    return _result("trademark", wrong, hard=True, what="spell as the brand does")


@functools.lru_cache(maxsize=1024)
def _loose(mark: str) -> re.Pattern[str]:
    """A trademark's letters in any case, with an optional space or hyphen between them."""
    loose = r"[\s\-]?".join(re.escape(c) for c in mark if not c.isspace())
    before, after = (r"(?<!\w)", r"(?!\w)") if mark.isascii() else ("", "")
    return re.compile(f"{before}{loose}{after}", re.IGNORECASE)


def preferred_terms(text: str, preferred: Sequence[PreferredTerm]) -> CheckResult:
    """The brand's words instead of the ones it avoids (advisory, with the replacement)."""
    hits = [(m.group(0), p.use) for p in preferred for m in [_found_one(text, p.instead_of)] if m]
    if not hits:
        return CheckResult("preferred_term", True, hard=False)
    detail = "; ".join(f'"{found}": write "{use}"' for found, use in hits)
    return CheckResult("preferred_term", False, hard=False, detail=detail, span=hits[0][0])


def _found_one(text: str, terms: Sequence[str]) -> re.Match[str] | None:
    for term in terms:
        if match := _term(term).search(text):
            return match
    return None


def forbidden_claims(text: str, forbidden: Sequence[str]) -> CheckResult:
    """None of the claims the product must never make."""
    return _result("forbidden_claim", _found(text, forbidden), hard=True, what="never claim")


# Han characters, or Latin words, in a row that make a copied quote: longer than a
# product's name or a common phrase, shorter than any sentence worth quoting.
QUOTE_RUN = 10
QUOTE_RUN_WORDS = 7


def copies_review(text: str, quotes: Sequence[str]) -> CheckResult:
    """None of the customers' quotes written into the copy: their words are theirs (a
    review used as a testimonial needs its author's consent), and a small model that copies
    one copies its complaints too."""
    for quote in quotes:
        if phrase := shared_phrase(text, quote, QUOTE_RUN, QUOTE_RUN_WORDS):
            detail = f'copies a customer review: "{phrase}"'
            return CheckResult("copies_review", False, hard=True, detail=detail, span=phrase)
    return CheckResult("copies_review", True, hard=True)


def discrimination(text: str) -> CheckResult:
    """No wording that demeans by ethnicity, race, religion or gender (advisory: a person
    decides; China's Advertising Law art. 9(9))."""
    hits = discriminatory_terms(text)
    return _result("discrimination", hits, hard=False, what="review this wording")


def policy_checks(text: str, policy: Policy) -> list[CheckResult]:
    """Every policy rule on one text."""
    results = [ad_law(text, policy.approved), discrimination(text)]
    if policy.banned:
        results.append(banned_terms(text, policy.banned))
    if policy.required:
        results.append(required_elements(text, policy.required))
    if policy.trademarks:
        results.append(trademarks(text, policy.trademarks))
    if policy.preferred:
        results.append(preferred_terms(text, policy.preferred))
    if policy.forbidden:
        results.append(forbidden_claims(text, policy.forbidden))
    if policy.quotes:
        results.append(copies_review(text, policy.quotes))
    claims = check_claims(text, policy.facts)
    if not policy.facts_binding and not claims.passed:
        claims = CheckResult(claims.name, False, hard=False, detail=claims.detail, span=claims.span)
    results.append(claims)
    return results
