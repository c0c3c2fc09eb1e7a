"""The kinds of copy: request model, template folder, parser, checks and token budget."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.checks import CheckResult, rules
from app.content.parsing import parse_markdown_article, parse_one_line, parse_prose
from app.content.schemas import (
    AdSloganRequest,
    BlogPostRequest,
    GenerationOptionsIn,
    ProductDescriptionRequest,
)

# Fields that steer the call, not the copy; the rest of a request is the brief.
OPTION_FIELDS = frozenset({"n", "model", "temperature", "max_tokens", "seed"})


@dataclass(frozen=True)
class ContentKind:
    """Everything that differs between kinds of copy."""

    name: str
    path: str
    title: str
    description: str
    request_model: type[GenerationOptionsIn]
    parse: Callable[[str], str]
    check: Callable[[str, Any], list[CheckResult]]
    default_max_tokens: int
    # Where a base model (completion mode) should stop: it would go on writing examples.
    completion_stop: tuple[str, ...] = ("<brief>", "\n\n\n")

    def template_name(self, language: str) -> str:
        """The template that writes this kind in a language."""
        return f"{self.name}/{language}"

    def max_tokens(self, request: GenerationOptionsIn) -> int:
        """The token budget of one model call: the request's, else this kind's default."""
        return request.max_tokens or self.default_max_tokens

    def brief(self, request: GenerationOptionsIn) -> dict[str, Any]:
        """The request minus call options: what the template and the history see."""
        return request.model_dump(mode="json", exclude=set(OPTION_FIELDS))


def _slogan_checks(text: str, request: AdSloganRequest) -> list[CheckResult]:
    return [
        *rules.common(text, request.language, request.keywords),
        rules.single_line(text),
        rules.substance(text, request.language),
        rules.max_chars(text, request.max_chars),
    ]


def _description_checks(text: str, request: ProductDescriptionRequest) -> list[CheckResult]:
    return [
        *rules.common(text, request.language, request.keywords),
        rules.word_range(text, request.min_words, request.max_words),
    ]


def _blog_checks(text: str, request: BlogPostRequest) -> list[CheckResult]:
    return [
        *rules.common(text, request.language, request.keywords),
        rules.markdown_title(text),
        rules.word_range(text, request.min_words, request.max_words),
    ]


AD_SLOGAN = ContentKind(
    name="ad_slogan",
    path="/v1/ad-slogans",
    title="Write ad slogans",
    description="Short, single-line slogans for a product, stressing one message, each within "
    "`max_chars` characters.",
    request_model=AdSloganRequest,
    parse=parse_one_line,
    check=_slogan_checks,
    default_max_tokens=64,
    completion_stop=("\n\n", "<brief>"),
)
PRODUCT_DESCRIPTION = ContentKind(
    name="product_description",
    path="/v1/product-descriptions",
    title="Write product descriptions",
    description="Product-page prose built from features and specs, for a target customer, "
    "within a word range (in Chinese a Han character counts as one word).",
    request_model=ProductDescriptionRequest,
    parse=parse_prose,
    check=_description_checks,
    default_max_tokens=400,
)
BLOG_POST = ContentKind(
    name="blog_post",
    path="/v1/blog-posts",
    title="Write blog posts",
    description="A Markdown article with a `# Title`, following the outline and using the target "
    "keywords, within a word range.",
    request_model=BlogPostRequest,
    parse=parse_markdown_article,
    check=_blog_checks,
    default_max_tokens=1500,
)

KINDS: dict[str, ContentKind] = {k.name: k for k in (AD_SLOGAN, PRODUCT_DESCRIPTION, BLOG_POST)}
