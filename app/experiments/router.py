"""HTTP route for engagement events."""

from fastapi import APIRouter, Request

from app.deps import RateCaller
from app.experiments.events import record_events
from app.experiments.schemas import MAX_EVENTS, EventBatch, EventsRecorded
from app.openapi_docs import AUTH_ERRORS, BODY_ERRORS, error_responses

router = APIRouter(prefix="/v1", tags=["Events"])


@router.post(
    "/events",
    response_model=EventsRecorded,
    summary="Record engagement events",
    description=f"Up to {MAX_EVENTS:,} impressions, clicks, conversions or events of your own "
    "type, each about a variant of this workspace. `event_id` is yours and unique in the "
    "workspace: an event sent again counts once (`duplicate`). An event about an unknown "
    "variant (or another workspace's), or dated more than 5 minutes ahead of the server's "
    "clock, is refused alone; the others are stored. A body that breaks the schema is "
    "refused whole (422, naming the event's index). Late events are taken. Each variant's "
    "daily counters are kept in the same transaction as its events. Needs the `rate` scope.",
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS),
)
async def post_events(request: Request, body: EventBatch, caller: RateCaller) -> EventsRecorded:
    state = request.app.state
    return await record_events(
        state.database, state.events, workspace_id=caller.workspace_id, events=body.events
    )
