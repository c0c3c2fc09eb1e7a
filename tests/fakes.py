"""A scripted LLM client for tests whose subject is not the model."""

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.llm.base import Completion, GenerationOptions, LLMError, Message, StreamDelta, StreamEvent

Script = Callable[[Sequence[Message], GenerationOptions], str]


def default_script(messages: Sequence[Message], options: GenerationOptions) -> str:
    """Chatty output of the kind small models produce, so parsers have work to do.

    The seed is written into the text, so variants with different seeds differ."""
    prompt = messages[-1].content
    zh = "广告语" in prompt or "文案" in prompt or "博客" in prompt
    seed = options.seed or 0
    if "Slogan:" in prompt or "广告语：" in prompt:
        line = f"湿滑岩面，步步抓稳{seed}号。" if zh else f"Grip that holds on wet rock, {seed}."
        return f'Sure! Here is a slogan:\n1. "{line}"'
    if "Description:" in prompt or "文案：" in prompt:
        if zh:
            return f"第{seed}款水壶三分钟烧开一升水，保温两小时，小户型厨房也放得下。" * 3
        return f"Kettle {seed} boils a litre in three minutes and keeps it warm for hours. " * 5
    if zh:
        para = f"抓地力、重量和贴合度决定了你跑得稳不稳，第{seed}点。" * 20
        return f"# 如何挑选越野跑鞋\n\n## 抓地力\n\n{para}"
    para = f"Grip, weight and fit decide how trail running shoes feel, point {seed}. " * 30
    return f"# How to choose a trail running shoe\n\n## Grip\n\n{para}"


@dataclass
class FakeLLM:
    """Answers from a script; a script may raise LLMError to simulate a failing model."""

    alias: str = "fake"
    provider: str = "fake"
    script: Script = default_script
    calls: list[tuple[list[Message], GenerationOptions]] = field(default_factory=list)
    # Seconds each call takes, so that concurrent requests overlap.
    delay_s: float = 0.0

    async def complete(self, messages: Sequence[Message], options: GenerationOptions) -> Completion:
        self.calls.append((list(messages), options))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        text = self.script(messages, options)
        return Completion(
            text=text,
            finish_reason="stop",
            input_tokens=sum(len(m.content) for m in messages) // 4,
            output_tokens=len(text) // 4,
            resolved_model="fake-model-1",
        )

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncIterator[StreamEvent]:
        completion = await self.complete(messages, options)
        for start in range(0, len(completion.text), 5):
            yield StreamDelta(completion.text[start : start + 5])
        yield completion

    def describe(self) -> dict[str, Any]:
        return {"provider": self.provider}

    async def aclose(self) -> None:
        return None


def failing(kind: str = "upstream", message: str = "upstream exploded", **extra: Any) -> Script:
    """A script that always fails with the given LLMError kind."""

    def script(messages: Sequence[Message], options: GenerationOptions) -> str:
        raise LLMError(kind, message, **extra)  # type: ignore[arg-type]

    return script
