"""HTTP routes for engagement events and experiments."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, Request, Response, status

from app.deps import EventsCaller, RateCaller, ReadCaller, ServingCaller, SessionDep
from app.experiments import score_service, service
from app.experiments.events import record_events
from app.experiments.schemas import (
    MAX_EVENTS,
    Assignment,
    EventBatch,
    EventsRecorded,
    ExperimentCreate,
    ExperimentRead,
    ExperimentStop,
    ExperimentSummary,
    ScoreModelRead,
)
from app.knowledge.schemas import Page
from app.openapi_docs import AUTH_ERRORS, BODY_ERRORS, error_responses

router = APIRouter(prefix="/v1")

ExperimentId = Annotated[UUID, Path(description="Id from creating or listing experiments.")]
PAGE_LIMIT = 200
# No body: stop with the proposed winner.
NO_CHOICE = ExperimentStop()
WRITE_ERRORS = error_responses(404, 409, *AUTH_ERRORS, *BODY_ERRORS)
READ_ERRORS = error_responses(404, *AUTH_ERRORS)


@router.post(
    "/events",
    tags=["Events"],
    response_model=EventsRecorded,
    summary="Record engagement events",
    description=f"Up to {MAX_EVENTS:,} impressions, clicks, conversions or events of your own "
    "type, each about a variant of this workspace. `event_id` is yours and unique in the "
    "workspace: an event sent again counts once (`duplicate`). An event about an unknown "
    "variant (or another workspace's), or dated more than 5 minutes ahead of the server's "
    "clock, is refused alone; the others are stored. A body that breaks the schema is "
    "refused whole (422, naming the event's index). Late events are taken. Each variant's "
    "daily counters are kept in the same transaction as its events. Needs the `rate` scope; "
    "events count against the key's events per minute (`X-RateLimit-*-Events`), not its "
    "requests per minute.",
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS),
)
async def post_events(request: Request, body: EventBatch, caller: EventsCaller) -> EventsRecorded:
    state = request.app.state
    await state.authenticator.count_events(request, caller, len(body.events))
    recorded = await record_events(
        state.database, state.events, workspace_id=caller.workspace_id, events=body.events
    )
    state.serving.note_events(
        event.variant_id
        for event, result in zip(body.events, recorded.results, strict=True)
        if result.status == "recorded"
    )
    return recorded


@router.post(
    "/experiments",
    tags=["Experiments"],
    status_code=status.HTTP_201_CREATED,
    response_model=ExperimentRead,
    summary="Create an experiment",
    description="A draft over 2 to 20 variants of one kind (e.g. three slogans of one "
    "generation). Start it to serve it. With `policy: thompson` (the default) traffic moves "
    "to the arm most likely to be best once every arm has had `burn_in` impressions; each "
    "arm keeps at least `floor`. Needs the `rate` scope.",
    responses=WRITE_ERRORS,
)
async def create_experiment(
    body: ExperimentCreate, session: SessionDep, caller: RateCaller
) -> ExperimentRead:
    experiment = await service.create_experiment(session, caller.workspace_id, body)
    return await service.experiment_read(session, experiment)


@router.get(
    "/experiments",
    tags=["Experiments"],
    response_model=Page[ExperimentSummary],
    summary="List experiments",
    description="Oldest first, without results (read one for those).",
    responses=error_responses(*AUTH_ERRORS),
)
async def list_experiments(
    session: SessionDep,
    caller: ReadCaller,
    cursor: Annotated[
        str | None, Query(max_length=64, description="`next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT, description="Page size.")] = 50,
) -> Any:
    rows = await service.list_experiments(session, caller.workspace_id, after=cursor, limit=limit)
    return {
        "items": [service.experiment_summary(row) for row in rows],
        "next_cursor": rows[-1].id if len(rows) == limit else None,
    }


@router.get(
    "/experiments/{experiment_id}",
    tags=["Experiments"],
    response_model=ExperimentRead,
    summary="Read an experiment and its results",
    description="Per arm: impressions, goal events, the rate's posterior mean and 95% "
    "credible interval, the probability to be best, the expected loss, and its weight; the "
    "proposed winner once one arm has P(best) >= `min_p_best` at an expected loss under "
    "`max_loss`; the weights over time. Computed from the events now.",
    responses=READ_ERRORS,
)
async def get_experiment(
    experiment_id: ExperimentId, session: SessionDep, caller: ReadCaller
) -> ExperimentRead:
    experiment = await service.get_experiment(session, caller.workspace_id, str(experiment_id))
    return await service.experiment_read(session, experiment)


@router.post(
    "/experiments/{experiment_id}/start",
    tags=["Experiments"],
    response_model=ExperimentRead,
    summary="Start an experiment",
    description="A draft starts serving; events count for it from now. 409 when it is not "
    "a draft, or when one of its variants is in another running experiment.",
    responses=error_responses(404, 409, *AUTH_ERRORS),
)
async def start_experiment(
    request: Request, experiment_id: ExperimentId, session: SessionDep, caller: RateCaller
) -> ExperimentRead:
    experiment = await service.get_experiment(session, caller.workspace_id, str(experiment_id))
    await service.start_experiment(session, experiment)
    request.app.state.serving.forget(experiment.id)
    return await service.experiment_read(session, experiment)


@router.post(
    "/experiments/{experiment_id}/stop",
    tags=["Experiments"],
    response_model=ExperimentRead,
    summary="Stop an experiment",
    description="Fixes the winner (the one named, else the proposed one; 409 when none is "
    "proposed and none named): assignment answers it from then on.",
    responses=WRITE_ERRORS,
)
async def stop_experiment(
    request: Request,
    experiment_id: ExperimentId,
    session: SessionDep,
    caller: RateCaller,
    body: Annotated[ExperimentStop, Body()] = NO_CHOICE,
) -> ExperimentRead:
    experiment = await service.get_experiment(session, caller.workspace_id, str(experiment_id))
    await service.stop_experiment(session, experiment, body.winner_variant_id)
    request.app.state.serving.forget(experiment.id)
    return await service.experiment_read(session, experiment)


@router.delete(
    "/experiments/{experiment_id}",
    tags=["Experiments"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an experiment",
    description="A draft or stopped experiment (409 while running). Its events stay: they "
    "belong to the variants.",
    responses=error_responses(404, 409, *AUTH_ERRORS),
)
async def delete_experiment(
    request: Request, experiment_id: ExperimentId, session: SessionDep, caller: RateCaller
) -> Response:
    experiment = await service.get_experiment(session, caller.workspace_id, str(experiment_id))
    await service.delete_experiment(session, experiment)
    request.app.state.serving.forget(experiment.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/experiments/{experiment_id}/assignment",
    tags=["Experiments"],
    response_model=Assignment,
    summary="Choose the variant to show",
    description="Answered from memory (weights are recomputed after `refresh_events` new "
    "events or `refresh_seconds`, not per request). With `unit_id` the choice is sticky: the "
    "same unit gets the same variant while the weights allow. A stopped experiment always "
    "answers its winner; a draft is 409. `record=true` records the impression too, once per "
    "unit, variant and UTC day. Needs only the `read` scope; counts as one event against the "
    "key's events per minute.",
    responses=error_responses(404, 409, *AUTH_ERRORS),
)
async def get_assignment(
    request: Request,
    experiment_id: ExperimentId,
    caller: ServingCaller,
    unit_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="A hashed visitor id: the same id, the same variant.",
        ),
    ] = None,
    segment: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[\x21-\x7e]+$",
            description="The visitor's segment, for experiments that learn per segment.",
        ),
    ] = None,
    record: Annotated[bool, Query(description="Record the impression as well.")] = False,
) -> Assignment:
    state = request.app.state
    await state.authenticator.count_events(request, caller, 1)
    assignment: Assignment = await state.serving.assign(
        workspace_id=caller.workspace_id,
        experiment_id=str(experiment_id),
        unit_id=unit_id,
        segment=segment,
        record=record,
    )
    return assignment


@router.post(
    "/score-models",
    tags=["Learned score"],
    status_code=status.HTTP_201_CREATED,
    response_model=ScoreModelRead,
    summary="Train the learned score",
    description="Trains a new version of the workspace's score model on every rated variant "
    "(features: checks passed, length, kind, language, template version, model, brand, "
    "audience, and the text's character n-grams) and reports its quality on ratings it did "
    "not see: Spearman against the check score's, and AUC for clicks where variants were "
    "shown enough. New variants get `predicted_score` from the newest version; they are "
    "ranked by it only when it beat the check score (`ranks`). 409 with fewer than 30 rated "
    "variants in 5 generations. Needs the `rate` scope.",
    responses=error_responses(409, *AUTH_ERRORS),
)
async def train_score_model(
    request: Request, session: SessionDep, caller: RateCaller
) -> ScoreModelRead:
    model = await score_service.train_score_model(session, caller.workspace_id)
    request.app.state.scorers.forget(caller.workspace_id)
    return ScoreModelRead.model_validate(model)


@router.get(
    "/score-models",
    tags=["Learned score"],
    response_model=list[ScoreModelRead],
    summary="List the learned score's versions",
    description="Newest first (the newest scores new variants), up to 100.",
    responses=error_responses(*AUTH_ERRORS),
)
async def list_score_models(session: SessionDep, caller: ReadCaller) -> list[ScoreModelRead]:
    rows = await score_service.list_score_models(session, caller.workspace_id)
    return [ScoreModelRead.model_validate(row) for row in rows]
