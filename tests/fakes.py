"""A scripted LLM client for tests whose subject is not the model."""

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.llm.base import Completion, GenerationOptions, LLMError, Message, StreamDelta, StreamEvent

Script = Callable[[Sequence[Message], GenerationOptions], str]


def default_script(messages: Sequence[Message], options: GenerationOptions) -> str:
    """Chatty output of the kind small models produce, so parsers have work to do."""
    prompt = messages[-1].content
    zh = "广告语" in prompt or "文案" in prompt or "博客" in prompt
    seed = options.seed or 0
    if "Slogan:" in prompt or "广告语：" in prompt:
        line = (
            f"湿滑岩面，步步抓稳{seed}号。" if zh else f"Grip that holds on wet rock, take {seed}."
        )
        return f'Sure! Here is a slogan:\n1. "{line}"'
    if "Description:" in prompt or "文案：" in prompt:
        body = (
            ("这款水壶三分钟烧开一升水，保温两小时，小户型厨房也放得下。" * 3)
            if zh
            else ("Kettle One boils a litre in three minutes and keeps it warm for two hours. " * 5)
        )
        return body.strip()
    title = "# 如何挑选越野跑鞋" if zh else "# How to choose a trail running shoe"
    para = (
        ("抓地力、重量和贴合度决定了你跑得稳不稳。" * 20)
        if zh
        else ("Grip, weight and fit decide how your trail running shoes feel on the trail. " * 30)
    )
    return f"{title}\n\n## Grip\n\n{para}"


@dataclass
class FakeLLM:
    """Answers from a script; a script may raise LLMError to simulate a failing model."""

    alias: str = "fake"
    provider: str = "fake"
    script: Script = default_script
    calls: list[tuple[list[Message], GenerationOptions]] = field(default_factory=list)

    async def complete(self, messages: Sequence[Message], options: GenerationOptions) -> Completion:
        self.calls.append((list(messages), options))
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
