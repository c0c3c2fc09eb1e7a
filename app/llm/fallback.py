"""An alias served by its primary model, and by a fallback alias when the primary fails."""

import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

from app.llm.base import (
    Completion,
    GenerationOptions,
    LLMClient,
    LLMError,
    Message,
    StreamDelta,
    StreamEvent,
)

# A request the primary refused as malformed would be refused by the fallback too.
_NO_FALLBACK = frozenset({"bad_request"})


class FallbackClient:
    """Try the primary (with its own retries and deadline), then the fallback, once."""

    def __init__(self, primary: LLMClient, fallback: LLMClient, fallback_alias: str) -> None:
        self.alias = primary.alias
        self.provider = primary.provider
        self.primary = primary
        self.fallback = fallback
        self.fallback_alias = fallback_alias

    def _served_by_fallback(self, completion: Completion) -> Completion:
        return dataclasses.replace(completion, served_by=self.fallback_alias)

    async def complete(self, messages: Sequence[Message], options: GenerationOptions) -> Completion:
        """The primary's completion, or the fallback's when the primary fails."""
        try:
            return await self.primary.complete(messages, options)
        except LLMError as error:
            if error.kind in _NO_FALLBACK:
                raise
        return self._served_by_fallback(await self.fallback.complete(messages, options))

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncIterator[StreamEvent]:
        """The primary's stream; the fallback's only if the primary failed before any text."""
        started = False
        try:
            async for event in self.primary.stream(messages, options):
                started = started or isinstance(event, StreamDelta)
                yield event
            return
        except LLMError as error:
            if started or error.kind in _NO_FALLBACK:
                raise
        async for event in self.fallback.stream(messages, options):
            yield self._served_by_fallback(event) if isinstance(event, Completion) else event

    def describe(self) -> dict[str, Any]:
        """The primary's facts plus the fallback alias."""
        return {**self.primary.describe(), "fallback": self.fallback_alias}

    async def aclose(self) -> None:
        """Close the primary; the fallback alias is closed by the registry."""
        await self.primary.aclose()
