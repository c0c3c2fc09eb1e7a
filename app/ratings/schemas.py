"""The rating request."""

from pydantic import BaseModel, ConfigDict, Field

from app.fields import LongText, ShortText, WholeNumber


class RatingCreate(BaseModel):
    """A score for a variant; the same rater rating again replaces their rating."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"score": 4, "comment": "Punchy, a bit long", "rater": "maya"}]
        },
    )

    score: WholeNumber = Field(ge=1, le=5, description="1 (unusable) to 5 (ship it).")
    comment: LongText | None = Field(None, description="Why, in a sentence.")
    rater: ShortText | None = Field(
        None,
        description="Who rates; one rating per rater per variant. Default: the API key's id "
        "(or 'anonymous' with auth off).",
    )
