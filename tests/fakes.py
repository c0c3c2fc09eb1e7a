"""A scripted LLM client for tests whose subject is not the model."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.llm.base import Completion, GenerationOptions, LLMError, Message, StreamDelta, StreamEvent
from tests.prose import prose

Script = Callable[[Sequence[Message], GenerationOptions], str]


# Distinct lines, so variants with different seeds are not near-duplicates of each other.
_SLOGANS_EN = (
    "Grip that holds on wet rock, take ",
    "Every step planted on slick stone, trail ",
    "Run the rain-soaked ridge with confidence, mile ",
    "Light shoes that bite into mud, loop ",
    "Stay upright where the path turns slippery, run ",
)
_SLOGANS_ZH = (
    "湿滑岩面，步步抓稳",
    "雨后山路稳稳向前",
    "泥地不打滑越野更放心",
    "石面再滑脚下依旧稳",
    "轻盈鞋底咬住湿滑山径",
)


def _fake_text(spec: dict[str, Any], seed: int, zh: bool) -> str:
    longest, least = spec.get("maxLength", 400), spec.get("minLength", 1)
    if "pattern" in spec:  # a hashtag or a display path: one word
        return f"{'越野' if zh else 'Trail'}{seed}"
    words = max(least, min(longest if zh else longest // 5, 60))
    return prose(words, seed, language="zh" if zh else "en")[:longest].strip()


def structured_answer(schema: dict[str, Any], seed: int, zh: bool) -> dict[str, Any]:
    """An answer of the JSON schema, its texts seeded prose within each length."""
    answer: dict[str, Any] = {}
    for number, (name, spec) in enumerate(schema["properties"].items()):
        if spec["type"] == "array":
            count = spec.get("maxItems") or 1
            answer[name] = [
                _fake_text(spec["items"], seed * 100 + number * 10 + i, zh) for i in range(count)
            ]
        else:
            answer[name] = _fake_text(spec, seed * 100 + number, zh)
    return answer


def default_script(messages: Sequence[Message], options: GenerationOptions) -> str:
    """Chatty output of the kind small models produce, so parsers have work to do.

    The seed is written into the text, so variants with different seeds differ."""
    prompt = messages[-1].content
    zh = "广告语" in prompt or "文案" in prompt or "博客" in prompt
    seed = options.seed or 0
    if options.constraints.json_schema is not None:
        zh = any("\u4e00" <= c <= "\u9fff" for c in prompt[-400:])
        answer = structured_answer(json.loads(options.constraints.json_schema), seed, zh)
        # Fenced and introduced, the way chat models answer.
        return f"Sure! Here it is:\n```json\n{json.dumps(answer, ensure_ascii=False)}\n```"
    if "Slogan:" in prompt or "广告语：" in prompt:
        pool = _SLOGANS_ZH if zh else _SLOGANS_EN
        line = f"{pool[seed % len(pool)]}{seed}"
        return f'Sure! Here is a slogan:\n1. "{line}"'
    if "Description:" in prompt or "文案：" in prompt:
        if zh:
            return f"第{seed}款水壶三分钟烧开一升水。" + prose(60, seed, language="zh")
        return f"Kettle {seed} boils a litre in three minutes. " + prose(60, seed)
    if zh:
        return f"# 如何挑选越野跑鞋\n\n## 抓地力\n\n第{seed}点。" + prose(300, seed, language="zh")
    return (
        "# How to choose a trail running shoe\n\n## Grip\n\n"
        + f"Point {seed}: trail running shoes differ. "
        + prose(320, seed)
    )


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
