"""The body and answer of `POST /v1/checks`."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.config import Language
from app.fields import TEXT_PATTERN, KnowledgeId
from app.generation.schemas import CheckRead, KnowledgeRef
from app.knowledge.schemas import KindName

# The longest text the writers keep (a 5,000-word post in Markdown), with room.
MAX_TEXT_CHARS = 60_000


class LintRequest(BaseModel):
    """A text to check, with what to check it against."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "text": "The world's lightest trail shoe: 180 g of grip.",
                    "kind": "ad_slogan",
                    "brief": {
                        "product": "Aurora trail running shoes",
                        "key_message": "grip on wet rock, 210 g",
                        "max_chars": 50,
                    },
                    "language": "en",
                }
            ]
        },
    )

    text: (
        Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS, pattern=TEXT_PATTERN)] | None
    ) = Field(None, description="The copy as pasted (or give `fields`).")
    fields: dict[str, Any] | None = Field(
        None,
        description="Structured copy's fields instead of `text`, with a structured `kind` "
        '(`social_post`, `email`, `ad_set`): e.g. `{"headlines": [...], "descriptions": '
        "[...]}`; each field is checked against its limit, and the text as pasted is built "
        "from them.",
        max_length=20,
    )
    language: Language = "en"
    kind: KindName | None = Field(
        None, description="Check the kind's format and limits too (with `brief`)."
    )
    brief: dict[str, Any] | None = Field(
        None,
        description="The kind's brief fields, as a writer takes them (`max_chars`, "
        "`min_words`, `keywords`, ...), without `language` and the ids, which go above.",
    )
    platform: Annotated[str, Field(max_length=32, pattern=r"^[a-z]+$")] | None = Field(
        None,
        description="Count the text as this platform does (`GET /v1/platforms`): its limits "
        "for `field`.",
    )
    field: Annotated[str, Field(max_length=32, pattern=r"^[a-z_]+$")] | None = Field(
        None, description="The platform's field the text is for (default: its main one)."
    )
    brand_id: KnowledgeId | None = None
    product_id: KnowledgeId | None = Field(
        None, description="Figures in the text must be among its facts."
    )
    audience_id: KnowledgeId | None = None

    @model_validator(mode="after")
    def _text_or_fields(self) -> "LintRequest":
        if (self.text is None) == (self.fields is None):
            raise ValueError("give the copy as text or as fields, one of them")
        return self


class LintRead(BaseModel):
    """Every check's verdict; `passed` when every hard check passed."""

    passed: bool
    checks: list[CheckRead]
    knowledge: KnowledgeRef


class FieldProfileRead(BaseModel):
    """A platform field's limits, how they are counted, and where the figures come from."""

    counting: str
    max: int | None
    preview: int | None
    recommended: int | None
    min_items: int | None = Field(description="A list field (an ad's headlines): fewest texts.")
    max_items: int | None = Field(description="A list field: most texts.")
    source: str


class PlatformRead(BaseModel):
    """A platform profile."""

    key: str
    name: str
    use: str = Field(description="`social` (POST /v1/social-posts) or `ads` (POST /v1/ad-sets).")
    main_field: str
    hashtag_form: str
    max_hashtags: int | None
    hashtags_source: str | None
    fields: dict[str, FieldProfileRead]
