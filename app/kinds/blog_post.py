"""Blog posts: a Markdown article with a `# Title`, following an outline, within a word range."""

from typing import Annotated

from pydantic import ConfigDict, Field

from app.checks import CheckResult, rules
from app.fields import ShortText, WholeNumber
from app.kinds.base import (
    ContentKind,
    WordRangeBrief,
    fit_word_range,
    prose_constraints,
    words_budget,
)
from app.kinds.parsing import parse_markdown_article


class BlogPostRequest(WordRangeBrief):
    """Brief for a blog post (Markdown with a title); `keywords` are its target keywords."""

    topic: ShortText = Field(description="What the post is about.")
    outline: Annotated[list[ShortText], Field(max_length=20)] = Field(
        default_factory=list, description="Points or sections to cover, in order."
    )
    min_words: WholeNumber = Field(300, ge=50, le=5000, description="Shortest acceptable length.")
    max_words: WholeNumber = Field(800, ge=50, le=5000, description="Longest acceptable length.")

    # Strictness and forbidden extras come from Brief (pydantic merges configs).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "topic": "How to choose a trail running shoe",
                    "outline": ["grip", "weight", "fit"],
                    "keywords": ["trail running shoes"],
                    "min_words": 300,
                    "max_words": 600,
                    "language": "en",
                }
            ]
        },
    )


def _checks(text: str, brief: BlogPostRequest) -> list[CheckResult]:
    return [
        *rules.common(text, brief.language, brief.keywords, loop_phrase=6),
        rules.not_an_echo(text),
        rules.markdown_title(text),
        rules.word_range(text, brief.min_words, brief.max_words),
        rules.fresh_title(text, brief.topic),
    ]


BLOG_POST = ContentKind(
    name="blog_post",
    path="/v1/blog-posts",
    title="Write blog posts",
    description="A Markdown article with a `# Title`, following the outline and using the target "
    "keywords, within a word range.",
    brief_model=BlogPostRequest,
    parse=parse_markdown_article,
    check=_checks,
    token_budget=words_budget,
    constraints=prose_constraints,
    fit=fit_word_range,
)
