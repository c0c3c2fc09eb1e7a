"""From an order to a plan: caps checked, the model routed, the prompt rendered, the budget set.

Everything here happens before any model call or database write, so whatever it refuses
costs nothing.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from app.checks.policy import Policy
from app.config import Settings
from app.errors import ValidationFailed
from app.ids import new_id
from app.kinds.base import Brief, ContentKind
from app.knowledge.bundle import Knowledge
from app.llm.base import Message
from app.llm.registry import ModelRegistry, Route
from app.models import DEFAULT_WORKSPACE
from app.privacy import redact
from app.prompting import PromptLibrary, RenderedPrompt


@dataclass(frozen=True)
class Order:
    """A generation asked for: the kind, its brief, the workspace and the Idempotency-Key."""

    kind: ContentKind[Any]
    brief: Brief
    workspace_id: str = DEFAULT_WORKSPACE
    idempotency_key: str | None = None


@dataclass(frozen=True)
class CallBudget:
    """How many model calls a generation may make (n plus replacements), how many at once,
    and in how long."""

    calls: int
    parallel: int
    # Seconds the calls may take in all: no round starts that would overrun it.
    seconds: float


@dataclass(frozen=True)
class Plan:
    """An order turned into a model route, a prompt and an id, before any model call."""

    id: str
    order: Order
    # The brief with what the knowledge fills in: what the template, checks and limits use.
    brief: Brief
    knowledge: Knowledge
    # The rules beyond the kind's format: advertising law, the brand's, the product's facts.
    policy: Policy
    route: Route
    # The brief as the template saw it and the history stores it (redacted where the route
    # says so).
    input: dict[str, object]
    prompt: RenderedPrompt
    messages: list[Message]
    request_hash: str
    budget: CallBudget
    # The most tokens the generation may spend: every call sends the prompt and writes up
    # to the kind's max_tokens.
    token_ceiling: int

    @property
    def kind(self) -> ContentKind[Any]:
        """The kind of copy."""
        return self.order.kind

    @property
    def completion_mode(self) -> bool:
        """Whether the model continues a text (a base model) instead of answering a chat."""
        return self.route.prompt_mode == "completion"


def estimated_tokens(text: str) -> int:
    """A generous token count for a prompt: one per three UTF-8 bytes.

    English runs about four characters a token and a Han character (three bytes) about one."""
    return -(-len(text.encode()) // 3)


def messages_for(prompt: RenderedPrompt, *, completion_mode: bool) -> list[Message]:
    """Chat messages, or for a base model one text of instructions, worked examples and brief."""
    if completion_mode:
        parts = [prompt.system, prompt.examples, prompt.user]
        return [Message("user", "\n\n".join(p for p in parts if p))]
    return [Message("system", prompt.system), Message("user", prompt.user)]


def request_hash(kind: ContentKind[Any], brief: Brief) -> str:
    """A fingerprint of what was asked, so a replayed Idempotency-Key can be checked."""
    canonical = json.dumps(
        [kind.name, brief.model_dump(mode="json")], sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def make_plan(
    order: Order,
    *,
    registry: ModelRegistry,
    prompts: PromptLibrary,
    settings: Settings,
    knowledge: Knowledge | None = None,
) -> Plan:
    """Check caps, route the model and render the prompt; raise before anything is spent."""
    knowledge = knowledge or Knowledge()
    brief = order.kind.fill(order.brief, knowledge)
    if brief.n > settings.max_n:
        raise ValidationFailed(f"n may be at most {settings.max_n}.", param="n")
    if brief.max_tokens is not None and brief.max_tokens > settings.max_tokens_cap:
        raise ValidationFailed(
            f"max_tokens may be at most {settings.max_tokens_cap}.", param="max_tokens"
        )
    route = registry.route(brief.model, brief.language)
    brief_fields = brief.template_input()
    template_input = {
        **brief_fields,
        **knowledge.template_input(order.kind.name, brief.language),
    }
    if route.redacts:
        # Personal data never leaves the machine, and what is stored is what was sent.
        template_input = redact(template_input)
    prompt = prompts.render(order.kind.template_name(brief), template_input)
    if len(prompt.system) + len(prompt.user) > settings.max_prompt_chars:
        raise ValidationFailed(
            f"The brief makes a prompt over {settings.max_prompt_chars} characters; shorten it.",
            param="body",
        )
    messages = messages_for(prompt, completion_mode=route.prompt_mode == "completion")
    budget = CallBudget(
        calls=brief.n + settings.extra_attempts,
        parallel=settings.max_parallel_calls,
        seconds=settings.generation_budget_s,
    )
    per_call = sum(estimated_tokens(m.content) for m in messages) + order.kind.max_tokens(brief)
    return Plan(
        id=new_id(),
        order=order,
        brief=brief,
        knowledge=knowledge,
        # The brief's own facts, as given (unredacted: the checks run here, not upstream).
        policy=knowledge.policy(order.kind.name, brief.language, brief_fields),
        route=route,
        input=template_input,
        prompt=prompt,
        messages=messages,
        # The request as sent: a replay with the same key must match it, whatever the
        # product or kit became since.
        request_hash=request_hash(order.kind, order.brief),
        budget=budget,
        token_ceiling=budget.calls * per_call,
    )
