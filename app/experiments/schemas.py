"""Request and response bodies of events (and, to come, experiments)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.fields import IsoDatetime

MAX_EVENTS = 1_000
# How far ahead of the server's clock an event may claim to have happened (clock skew).
FUTURE_SKEW_S = 300

EventType = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z][a-z0-9_.-]*$",
        description="`impression`, `click`, `conversion`, or a name of your own "
        "(lower case, e.g. `add_to_cart`). Experiments count impressions and their goal's "
        "type; other types are stored and counted per day.",
    ),
]
ClientId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


class EventIn(BaseModel):
    """Something that happened to a variant where it was shown."""

    model_config = ConfigDict(extra="forbid")

    event_id: ClientId = Field(
        description="Your id for this event, unique in the workspace: sending it again "
        "(a retry, a replayed queue) counts once."
    )
    variant_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The variant shown (from a generation of this workspace)."
    )
    type: EventType
    value: float | None = Field(
        None, ge=0, le=1e12, description="Revenue or another amount; never negative."
    )
    unit_id: ClientId | None = Field(
        None, description="Who saw it: a hashed visitor id (never an e-mail or a name)."
    )
    segment: (
        Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")] | None
    ) = Field(None, description="A segment of your own, e.g. `mobile` or `returning`.")
    occurred_at: IsoDatetime = Field(
        description="When it happened (ISO 8601 with a zone). Late events are taken; one "
        f"more than {FUTURE_SKEW_S} s ahead of the server's clock is refused."
    )


class EventBatch(BaseModel):
    """Events to record in one request."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "event_id": "web-7f3a-0001",
                            "variant_id": "01a25182-2e37-7000-ac3d-644941bf4af6",
                            "type": "impression",
                            "unit_id": "u-5d41402abc4b",
                            "occurred_at": "2026-12-07T09:30:00Z",
                        },
                        {
                            "event_id": "web-7f3a-0002",
                            "variant_id": "01a25182-2e37-7000-ac3d-644941bf4af6",
                            "type": "click",
                            "unit_id": "u-5d41402abc4b",
                            "occurred_at": "2026-12-07T09:30:04Z",
                        },
                    ]
                }
            ]
        },
    )

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class EventResult(BaseModel):
    """What became of one event of the batch, in the batch's order."""

    event_id: str
    status: Literal["recorded", "duplicate", "refused"]
    message: str | None = Field(None, description="Why it was refused.")


class EventsRecorded(BaseModel):
    """The outcome of a batch: counts, and one result per event."""

    recorded: int
    duplicates: int
    refused: int
    results: list[EventResult]
