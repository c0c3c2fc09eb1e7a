"""Request and response bodies of events and experiments."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from app.fields import IsoDatetime, ShortText

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
    # Strict: a JSON true is not the amount 1.
    value: Annotated[float, Field(ge=0, le=1e12), Strict()] | None = Field(
        None, description="Revenue or another amount; never negative."
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


# --- experiments ---------------------------------------------------------------------------

MAX_ARMS = 20
HISTORY_POINTS = 200
ExperimentStatus = Literal["draft", "running", "stopped"]
Goal = Literal["clicks", "conversions"]
# The event type each goal counts per impression.
GOAL_EVENT: dict[str, str] = {"clicks": "click", "conversions": "conversion"}
VariantId = Annotated[str, Field(min_length=1, max_length=64)]


class ExperimentCreate(BaseModel):
    """Variants competing for one placement, and how traffic is split between them."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Homepage hero, December",
                    "variant_ids": [
                        "01a25182-2e37-7000-ac3d-644941bf4af6",
                        "01a25182-2e37-7001-9d0e-1c2f3a4b5c6d",
                        "01a25182-2e37-7002-8a1b-2c3d4e5f6a7b",
                    ],
                    "goal": "clicks",
                }
            ]
        },
    )

    name: ShortText
    variant_ids: list[VariantId] = Field(
        min_length=2,
        max_length=MAX_ARMS,
        description="2 to 20 different variants of this workspace, all of one kind (a slogan "
        "does not compete with a blog post for one placement). Their order is the arms' order.",
    )
    goal: Goal = Field(
        "clicks",
        description="What an arm is judged by: `click` or `conversion` events per `impression`.",
    )
    policy: Literal["thompson", "split"] = Field(
        "thompson",
        description="`thompson`: traffic follows each arm's probability to be best (after the "
        "burn-in, each arm keeps at least `floor`). `split`: the fixed shares in `split`.",
    )
    split: list[Annotated[float, Field(gt=0, le=1)]] | None = Field(
        None,
        description="With `policy: split`, each arm's share in arm order, summing to 1. "
        "Default: equal shares.",
    )
    burn_in: int = Field(
        100,
        ge=0,
        le=1_000_000,
        description="Impressions every arm gets (under equal shares) before weights move.",
    )
    floor: float = Field(
        0.01,
        ge=0,
        le=0.5,
        description="The least share any arm keeps, so a slow start can still recover "
        "(capped at an equal share).",
    )
    per_segment: bool = Field(
        False,
        description="Learn weights for each `segment` apart; a segment with no events of its "
        "own is served the experiment's overall weights.",
    )
    refresh_events: int = Field(
        200,
        ge=1,
        le=1_000_000,
        description="Recompute the weights after this many new events in this process...",
    )
    refresh_seconds: float = Field(
        10, ge=0.1, le=86_400, description="...or after this many seconds, whichever is first."
    )
    min_p_best: float = Field(
        0.95, ge=0.5, le=1, description="P(best) an arm needs to be proposed as the winner..."
    )
    max_loss: float = Field(
        0.001,
        gt=0,
        le=1,
        description="...with an expected loss (rate given up, per impression) under this.",
    )


class ArmResult(BaseModel):
    """One arm: its variant, what it saw, and what the posterior says of it."""

    variant_id: str
    text: str
    impressions: int
    successes: int = Field(description="Goal events (clicks or conversions).")
    value: float = Field(description="Sum of the goal events' values (revenue).")
    rate: float = Field(description="Posterior mean of successes per impression.")
    interval: list[float] = Field(
        min_length=2, max_length=2, description="95% credible interval of the rate: [low, high]."
    )
    p_best: float = Field(description="Probability that this arm has the highest rate.")
    expected_loss: float = Field(description="Rate given up, on average, by choosing this arm.")
    weight: float = Field(description="Its share of traffic now.")


class WeightsPoint(BaseModel):
    """The shares served from `computed_at` on."""

    computed_at: datetime
    segment: str | None
    impressions: int
    weights: list[float]
    p_best: list[float]


class ExperimentSummary(BaseModel):
    """An experiment and its settings."""

    id: str
    name: str
    kind: str
    goal: Goal
    policy: Literal["thompson", "split"]
    split: list[float] | None
    burn_in: int
    floor: float
    per_segment: bool
    refresh_events: int
    refresh_seconds: float
    min_p_best: float
    max_loss: float
    status: ExperimentStatus
    winner_variant_id: str | None = Field(description="Fixed when the experiment stopped.")
    variant_ids: list[str] = Field(description="The arms, in order.")
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None


class ExperimentRead(ExperimentSummary):
    """An experiment, its settings, and its results so far."""

    proposed_winner_variant_id: str | None = Field(
        description="The arm with P(best) >= min_p_best and expected loss < max_loss, if any."
    )
    arms: list[ArmResult]
    weights_history: list[WeightsPoint] = Field(
        description=f"The latest {HISTORY_POINTS} recomputations of the weights, oldest first."
    )


class ExperimentStop(BaseModel):
    """How to end an experiment."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"winner_variant_id": None}]},
    )

    winner_variant_id: VariantId | None = Field(
        None,
        description="The arm to serve from now on. Default: the proposed winner; with none "
        "proposed, name one.",
    )


class Assignment(BaseModel):
    """The variant to show this unit now."""

    experiment_id: str
    variant_id: str
    text: str
    arm: int = Field(description="Its place in the experiment's arms, from 0.")
    status: ExperimentStatus
    impression_event_id: str | None = Field(
        description="The impression recorded with this answer (with `record=true`)."
    )


# --- the learned score -----------------------------------------------------------------------


class ScoreModelRead(BaseModel):
    """A version of the workspace's score model and how well it did on ratings it never saw."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    version: int
    created_at: datetime
    rated_variants: int = Field(description="Rated variants it was trained on.")
    held_out: int = Field(
        description="Ratings graded out of sample (each fold leaves whole generations out)."
    )
    spearman: float | None = Field(
        description="Spearman correlation of its held-out predictions with the mean ratings."
    )
    baseline_spearman: float | None = Field(
        description="The same for the check score (share of checks passed), the ranking "
        "used until a model beats it; null when every variant had the same check score."
    )
    click_auc: float | None = Field(
        description="AUC of the score for clicks over the impressions of variants shown at "
        "least 20 times (clicks it never trained on); null without such variants."
    )
    click_variants: int
    ranks: bool = Field(
        description="Whether new generations rank their variants by this score: only when "
        "its held-out Spearman beat the check score's."
    )
