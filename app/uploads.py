"""Files sent as a request body (catalog and review imports): which format they are in; and
files sent back (their exports)."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from app.fields import FileFormat as Format

FILE_TYPES: dict[str, Format] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
}
MEDIA_TYPES: dict[Format, str] = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
FileFormat = Annotated[
    Format | None,
    Query(alias="format", description="csv or jsonl; overrides the Content-Type."),
]


def file_format(request: Request, given: Format | None) -> Format:
    """The body's format: `?format=`, else its Content-Type; 415 when neither says."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    fmt = given or FILE_TYPES.get(media_type)
    if fmt is None:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "Send the file as the body with Content-Type: text/csv or application/x-ndjson, "
            "or name its format with ?format=csv or ?format=jsonl.",
        )
    return fmt


def download(chunks: AsyncIterator[str], fmt: Format, stem: str) -> StreamingResponse:
    """An export as a file named `stem.fmt`, streamed in UTF-8 as `chunks` come."""

    async def body() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            yield chunk.encode()

    return StreamingResponse(
        body(),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'},
    )
