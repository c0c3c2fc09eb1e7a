"""ORM rows -> read models (one place, so every endpoint shows a generation the same way)."""

from app.generation.schemas import (
    CheckRead,
    ErrorRead,
    GenerationRead,
    KnowledgeRef,
    PromptRead,
    RatingRead,
    TemplateRef,
    UsageRead,
    VariantRead,
)
from app.models import Generation, Variant


def variant_read(variant: Variant) -> VariantRead:
    """A variant with its checks and ratings."""
    scores = [r.score for r in variant.ratings]
    return VariantRead(
        id=variant.id,
        index=variant.index,
        text=variant.text,
        fields=variant.fields_json,
        checks=[CheckRead.model_validate(c) for c in variant.checks_json],
        score=variant.score,
        predicted_score=variant.predicted_score,
        rating_count=len(scores),
        rating_mean=round(sum(scores) / len(scores), 3) if scores else None,
        ratings=[RatingRead.model_validate(r) for r in variant.ratings],
    )


def generation_read(generation: Generation, *, with_prompt: bool) -> GenerationRead:
    """A generation as the API shows it; the rendered prompt only on the detail view."""
    error = (
        ErrorRead(type=generation.error_type, message=generation.error_message or "")
        if generation.error_type
        else None
    )
    return GenerationRead(
        id=generation.id,
        kind=generation.kind,
        language=generation.language,
        status=generation.status,
        model=generation.model_alias,
        provider=generation.provider,
        resolved_model=generation.resolved_model,
        fallback_model=generation.fallback_alias,
        template=TemplateRef(name=generation.template_name, version=generation.template_version),
        input=generation.input_json,
        knowledge=KnowledgeRef(
            brand_id=generation.brand_id,
            brand_version=generation.brand_version,
            product_id=generation.product_id,
            audience_id=generation.audience_id,
        ),
        options=generation.options_json,
        usage=UsageRead(
            input_tokens=generation.input_tokens,
            output_tokens=generation.output_tokens,
            latency_ms=generation.latency_ms,
        ),
        error=error,
        prompt=PromptRead(system=generation.system_prompt, user=generation.prompt)
        if with_prompt
        else None,
        variants=[variant_read(v) for v in generation.variants],
        created_at=generation.created_at,
        updated_at=generation.updated_at,
    )
