"""Complete generation rows as the service builds them, for tests and benchmarks that store
them directly."""

from typing import Any

from app.ids import new_id
from app.models import Generation, Variant, utcnow


def sample_generation(**overrides: Any) -> Generation:
    """A complete new generation with two variants, every column set as the service sets it."""
    now, generation_id = utcnow(), new_id()
    variants = [
        Variant(
            id=new_id(),
            generation_id=generation_id,
            index=index,
            text=f"Grip that holds, take {index} — 抓地有力",
            checks_json=[{"name": "not_empty", "passed": True, "hard": True, "detail": None}] * 8,
            score=0.9,
            created_at=now,
            ratings=[],
        )
        for index in range(2)
    ]
    fields: dict[str, Any] = {
        "id": generation_id,
        "workspace_id": "default",
        "kind": "ad_slogan",
        "language": "en",
        "input_json": {"product": "Aurora trail shoes", "note": "{{ 7*7 }}"},
        "brand_id": None,
        "template_name": "ad_slogan/en.j2",
        "template_version": "0" * 64,
        "system_prompt": "You write advertising slogans. " * 50,
        "prompt": "<brief>Aurora trail running shoes, grip on wet rock</brief> " * 14,
        "model_alias": "mock",
        "provider": "openai_compat",
        "resolved_model": "mock-1",
        "fallback_alias": None,
        "request_hash": "1" * 64,
        "options_json": {"n": 2, "attempts": 2, "prompt_mode": "chat"},
        "status": "succeeded",
        "error_type": None,
        "error_message": None,
        "input_tokens": 120,
        "output_tokens": 24,
        "latency_ms": 5,
        "idempotency_key": None,
        "search_text": "aurora trail shoes\n{{ 7*7 }}",
        "created_at": now,
        "updated_at": now,
        "variants": variants,
    }
    return Generation(**{**fields, **overrides})
