"""Settings from the environment (prefix COPYFORGE_) and an optional TOML file of models."""

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.paths import PROMPTS_DIR

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")


class ModelConfig(BaseModel):
    """One model alias: which provider serves it and how to reach it."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["openai_compat", "local"]
    model: str | None = Field(None, description="Model name sent upstream (openai_compat).")
    base_url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. .../v1.")
    api_key_env: str | None = Field(
        None, description="Name of the environment variable that holds the API key."
    )
    path: Path | None = Field(None, description="GGUF file (local); default: a bundled model.")
    bundled: Literal["smollm2", "gemma3-270m"] = Field(
        "smollm2", description="Which packaged GGUF a local alias runs when no path is given."
    )
    prompt_mode: Literal["chat", "completion"] = Field(
        "chat", description="'completion' for base models that need few-shot text prompts."
    )
    languages: list[Language] = Field(
        default_factory=list, description="Languages this alias serves when no model is named."
    )
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    connect_timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    context_length: Annotated[int, Field(ge=256, le=131072)] = 2048
    threads: Annotated[int | None, Field(ge=1, le=256)] = None
    queue_size: Annotated[int, Field(ge=0, le=1000)] = 8
    repeat_penalty: Annotated[float, Field(ge=1.0, le=2.0)] = Field(
        1.15,
        description="Penalty on tokens already written (local): small models loop without it.",
    )
    repeat_window: Annotated[int, Field(ge=16, le=4096)] = Field(
        256,
        description="How many of the last tokens the repeat penalty looks at (local); "
        "llama.cpp's 64 let paragraphs loop.",
    )
    load_at_startup: bool = False
    redact_pii: bool | None = Field(
        None,
        description="Replace e-mails, phone and card numbers in briefs before they are sent; "
        "default: on for openai_compat, off for local models.",
    )
    fallback: str | None = Field(
        None, description="Alias that answers when this one fails after its retries."
    )
    accepts_grammar: bool = Field(
        False,
        description="The server takes a GBNF `grammar` in chat completions (llama.cpp's and "
        "llama-cpp-python's servers): one-line copy is then constrained there as it is for "
        "the embedded models (openai_compat).",
    )
    response_format: Literal["json_schema", "json_object"] | None = Field(
        None,
        description="How the server takes a JSON schema for structured copy (social posts, "
        "emails, ad sets), so it samples only answers of that shape (openai_compat): "
        "`json_schema` is OpenAI's `response_format` (OpenAI, vLLM, llama.cpp's "
        "llama-server), `json_object` is llama-cpp-python's server's (`type: json_object` "
        "with a `schema`). Unset: the schema is only described in the prompt and the answer "
        "is read leniently.",
    )
    description: str = ""

    @model_validator(mode="after")
    def _provider_fields(self) -> "ModelConfig":
        if self.provider == "openai_compat" and not (self.base_url and self.model):
            raise ValueError("an openai_compat model needs base_url and model")
        return self

    @property
    def redacts(self) -> bool:
        """Whether briefs are redacted before reaching this model."""
        if self.redact_pii is not None:
            return self.redact_pii
        return self.provider != "local"

    def api_key(self) -> SecretStr | None:
        """The API key read from the environment variable this alias names."""
        import os

        if not self.api_key_env:
            return None
        value = os.environ.get(self.api_key_env)
        return SecretStr(value) if value else None


class Settings(BaseSettings):
    """Every knob of the service; read once per process."""

    model_config = SettingsConfigDict(env_prefix="COPYFORGE_", extra="ignore")

    database_url: str = "sqlite:///./copyforge.db"
    sqlite_busy_timeout_ms: Annotated[int, Field(ge=0)] = 30_000
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    log_level: str = "info"
    # Longer than the idle timeout of common clients and load balancers (60 s), so the
    # client, not the server, closes an idle connection: otherwise a request sent just as
    # the server closes it fails with a reset.
    keep_alive_s: Annotated[int, Field(ge=1)] = 75
    # Server processes. Each has its own writer and model instances; with more than one, set
    # redis_url so rate limits are counted once for all of them.
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    prompts_dir: Path = PROMPTS_DIR

    models: dict[str, ModelConfig] = Field(default_factory=dict)
    models_file: Path | None = None
    default_model: str | None = None

    # Off only for a loopback bind (`serve` refuses otherwise): the offline quickstart.
    auth_required: bool = True
    redis_url: str | None = None
    default_requests_per_minute: Annotated[int, Field(ge=1)] = 120
    default_tokens_per_day: Annotated[int, Field(ge=1)] = 2_000_000
    # Events and experiment assignments have their own budget per key (they come from page
    # views, far more than people's requests): events per minute, an assignment counting one.
    events_per_minute: Annotated[int, Field(ge=1)] = 600_000

    # The job seam (app/jobs.py): unset, jobs run inside the server's process; a redis:// URL
    # sends them through Redis to `copyforge worker` processes.
    job_broker_url: str | None = None
    # The Redis list the broker's tasks wait in: one per deployment sharing a Redis.
    job_queue: str = "copyforge:jobs"
    # Seconds a running job holds its claim without renewing it before another process
    # may take it over (its own process is presumed dead).
    job_lease_s: Annotated[float, Field(ge=1, le=3600)] = 60.0
    # POST /v1/reviews/import takes exports of shops' review pages: tens of MB.
    max_review_import_bytes: Annotated[int, Field(ge=1024)] = 128 * 1024 * 1024

    max_n: Annotated[int, Field(ge=1, le=50)] = 5
    max_tokens_cap: Annotated[int, Field(ge=16)] = 2048
    # Room for the largest body the request schemas allow (every field at its longest, each
    # character a JSON-escaped surrogate pair: about 170 KB for a product description).
    max_body_bytes: Annotated[int, Field(ge=1024)] = 256 * 1024
    # POST /v1/products/import takes a whole catalog file (10,000 products are about 5 MB).
    max_import_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024 * 1024
    max_prompt_chars: Annotated[int, Field(ge=1000)] = 24_000
    # Generations older than this many days are purged (hourly, and by `copyforge purge`).
    retention_days: Annotated[int | None, Field(ge=1)] = None
    max_parallel_calls: Annotated[int, Field(ge=1, le=64)] = 4
    # Extra model calls a generation may spend replacing variants that fail hard checks.
    extra_attempts: Annotated[int, Field(ge=0, le=20)] = 4
    # Seconds a generation's model calls may take in all: no round of attempts starts that
    # the slowest round so far says would not finish inside it.
    generation_budget_s: Annotated[float, Field(gt=0, le=3600)] = 120.0

    @model_validator(mode="after")
    def _load_models_file(self) -> "Settings":
        if self.models_file is not None:
            data = tomllib.loads(self.models_file.read_text(encoding="utf-8"))
            file_models = {
                alias: ModelConfig.model_validate(cfg)
                for alias, cfg in data.get("models", {}).items()
            }
            # Environment entries win over the file, alias by alias.
            self.models = {**file_models, **self.models}
            if self.default_model is None:
                self.default_model = data.get("default")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings."""
    return Settings()
