"""The tables: generations and their variants and ratings, workspaces and keys, the
knowledge copy is written from (brand kits and their versions, products, audiences), the
reviews it listens to, and the events and experiments it learns from."""

from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.ids import new_id

GenerationStatus = Literal["succeeded", "partial", "failed"]
# Indexes that exist on PostgreSQL only (declared with Index.ddl_if below); comparing a
# SQLite schema with the models leaves them out (app/migrations.py).
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_generation_search_trgm"})
DEFAULT_WORKSPACE = "default"


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns aware datetimes (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Generation(Base):
    """One request for copy, with everything needed to reproduce and judge it."""

    __tablename__ = "generation"
    __table_args__ = (
        UniqueConstraint("workspace_id", "idempotency_key", name="uq_generation_idempotency"),
        CheckConstraint(
            "status IN ('succeeded', 'partial', 'failed')", name="ck_generation_status"
        ),
        Index("ix_generation_ws_created", "workspace_id", "created_at", "id"),
        Index("ix_generation_ws_kind_created", "workspace_id", "kind", "created_at"),
        Index("ix_generation_ws_updated", "workspace_id", "updated_at", "id"),
        # `q` is a substring match: trigrams serve it on PostgreSQL; SQLite has no such index.
        Index(
            "ix_generation_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(String(64), default=DEFAULT_WORKSPACE)
    kind: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    input_json: Mapped[dict[str, Any]]
    brand_id: Mapped[str | None] = mapped_column(String(64))
    # The brand kit version, product and audience the prompt was written from.
    brand_version: Mapped[int | None] = mapped_column(Integer)
    product_id: Mapped[str | None] = mapped_column(String(36), index=True)
    audience_id: Mapped[str | None] = mapped_column(String(36), index=True)
    template_name: Mapped[str] = mapped_column(String(200))
    template_version: Mapped[str] = mapped_column(String(64))
    system_prompt: Mapped[str] = mapped_column(Text)
    prompt: Mapped[str] = mapped_column(Text)
    model_alias: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(32))
    resolved_model: Mapped[str | None] = mapped_column(String(200))
    fallback_alias: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    options_json: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    error_type: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # What `q` searches (app/search.py): the brief's values and the copy, casefolded.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    variants: Mapped[list["Variant"]] = relationship(
        back_populates="generation",
        order_by="Variant.index",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Variant(Base):
    """One candidate text of a generation, with the result of every check."""

    __tablename__ = "variant"
    __table_args__ = (UniqueConstraint("generation_id", "index", name="uq_variant_index"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    generation_id: Mapped[str] = mapped_column(
        ForeignKey("generation.id", ondelete="CASCADE"), index=True
    )
    index: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # Structured kinds: the copy's fields (title, body, hashtags, headlines); `text` is
    # them as pasted.
    fields_json: Mapped[dict[str, Any] | None]
    checks_json: Mapped[list[Any]]
    score: Mapped[float | None] = mapped_column(Float)
    # What the workspace's score model (learned from its ratings) expects people to rate it.
    predicted_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    generation: Mapped[Generation] = relationship(back_populates="variants")
    ratings: Mapped[list["Rating"]] = relationship(
        back_populates="variant",
        order_by="Rating.created_at",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Rating(Base):
    """A person's 1..5 verdict on a variant; one per (variant, rater)."""

    __tablename__ = "rating"
    __table_args__ = (
        UniqueConstraint("variant_id", "rater", name="uq_rating_variant_rater"),
        CheckConstraint("score BETWEEN 1 AND 5", name="ck_rating_score"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    variant_id: Mapped[str] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"))
    rater: Mapped[str] = mapped_column(String(200))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    variant: Mapped[Variant] = relationship(back_populates="ratings")


class Workspace(Base):
    """A tenant: API keys, generations and statistics belong to exactly one."""

    __tablename__ = "workspace"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key, stored as a hash; the secret is shown once, when it is created."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspace.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]]
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    tokens_per_day: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class KnowledgeRecord:
    """What brand kits, products and audiences share: a workspace, a name, a lifecycle."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # Set instead of deleting a record that generations used: their history stays readable.
    archived_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Brand(KnowledgeRecord, Base):
    """A brand kit; what it says lives in its versions, the newest of which is `version`."""

    __tablename__ = "brand"
    __table_args__ = (Index("ix_brand_ws_id", "workspace_id", "id"),)

    version: Mapped[int] = mapped_column(Integer, default=1)


class BrandVersion(Base):
    """One version of a brand kit, never changed once written."""

    __tablename__ = "brand_version"
    # Two concurrent updates cannot both write version n: one of them becomes n + 1.
    __table_args__ = (UniqueConstraint("brand_id", "version", name="uq_brand_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    kit_json: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Product(KnowledgeRecord, Base):
    """A product of the catalog: the facts copy about it may state."""

    __tablename__ = "product"
    __table_args__ = (
        # NULL SKUs do not collide (both databases treat NULLs as distinct).
        UniqueConstraint("workspace_id", "sku", name="uq_product_sku"),
        Index("ix_product_ws_id", "workspace_id", "id"),
    )

    brand_id: Mapped[str | None] = mapped_column(ForeignKey("brand.id"))
    sku: Mapped[str | None] = mapped_column(String(100))
    facts_json: Mapped[dict[str, Any]]
    revision: Mapped[int] = mapped_column(Integer, default=1)


class Audience(KnowledgeRecord, Base):
    """A reader copy is written for: hand-written, or derived from reviews."""

    __tablename__ = "audience"
    __table_args__ = (Index("ix_audience_ws_id", "workspace_id", "id"),)

    profile_json: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(32), default="manual")
    revision: Mapped[int] = mapped_column(Integer, default=1)


class Job(Base):
    """Work done off the request path (app/jobs.py): the state of record, whichever broker
    carries it, so that a restart resumes what was not finished."""

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="ck_job_status"
        ),
        Index("ix_job_status", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    payload_json: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class ReviewImport(Base):
    """One batch or file of reviews: what was read, kept, refused and analysed."""

    __tablename__ = "review_import"
    __table_args__ = (Index("ix_review_import_ws_created", "workspace_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    analysed: Mapped[int] = mapped_column(Integer, default=0)
    errors_json: Mapped[list[Any]]
    errors_truncated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Review(Base):
    """A customer's review, its text redacted of personal data, its author only hashed."""

    __tablename__ = "review"
    __table_args__ = (
        # NULL external ids do not collide; such reviews dedupe by content_hash alone.
        UniqueConstraint("workspace_id", "source", "external_id", name="uq_review_external"),
        UniqueConstraint("workspace_id", "content_hash", name="uq_review_content"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="ck_review_stars"),
        Index("ix_review_ws_product_at", "workspace_id", "product_id", "reviewed_at"),
        Index("ix_review_import", "import_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(String(64))
    import_id: Mapped[str | None] = mapped_column(
        ForeignKey("review_import.id", ondelete="SET NULL")
    )
    product_id: Mapped[str | None] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    stars: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    author_hash: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewAnalysis(Base):
    """What an analyser found in a review; one row per (review, analyser), never redone."""

    __tablename__ = "review_analysis"
    __table_args__ = (Index("ix_review_analysis_ws", "workspace_id", "analyser"),)

    review_id: Mapped[str] = mapped_column(
        ForeignKey("review.id", ondelete="CASCADE"), primary_key=True
    )
    analyser: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Several parts, one per language model and the aspect rules: room to grow.
    analyser_version: Mapped[str] = mapped_column(String(200))
    workspace_id: Mapped[str] = mapped_column(String(64))
    sentiment: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    aspects_json: Mapped[list[Any]]
    keywords_json: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """What happened to a variant in the wild: an impression, a click, a conversion, ..."""

    __tablename__ = "event"
    __table_args__ = (
        # The client's id: a replayed event counts once.
        UniqueConstraint("workspace_id", "event_id", name="uq_event_client_id"),
        Index("ix_event_variant_at", "variant_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(200))
    variant_id: Mapped[str] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    value: Mapped[float | None] = mapped_column(Float)
    unit_id: Mapped[str | None] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class VariantDay(Base):
    """Events of one type for one variant on one UTC day, kept as each event is stored."""

    __tablename__ = "variant_day"
    __table_args__ = (Index("ix_variant_day_ws_day", "workspace_id", "day"),)

    variant_id: Mapped[str] = mapped_column(
        ForeignKey("variant.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    type: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    events: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)


class Experiment(Base):
    """Variants competing for one placement, with how traffic is split between them."""

    __tablename__ = "experiment"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'running', 'stopped')", name="ck_experiment_status"),
        Index("ix_experiment_ws_created", "workspace_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    goal: Mapped[str] = mapped_column(String(16))
    policy: Mapped[str] = mapped_column(String(16))
    burn_in: Mapped[int] = mapped_column(Integer)
    floor: Mapped[float] = mapped_column(Float)
    per_segment: Mapped[bool] = mapped_column(Boolean)
    refresh_events: Mapped[int] = mapped_column(Integer)
    refresh_seconds: Mapped[float] = mapped_column(Float)
    min_p_best: Mapped[float] = mapped_column(Float)
    max_loss: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    winner_variant_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    stopped_at: Mapped[datetime | None] = mapped_column()

    arms: Mapped[list["ExperimentArm"]] = relationship(
        order_by="ExperimentArm.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )


class ExperimentArm(Base):
    """One variant of an experiment, in its place, with its share under a fixed split."""

    __tablename__ = "experiment_arm"
    __table_args__ = (UniqueConstraint("running_variant_id", name="uq_experiment_arm_running"),)

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiment.id", ondelete="CASCADE"), primary_key=True
    )
    variant_id: Mapped[str] = mapped_column(
        ForeignKey("variant.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)
    split: Mapped[float | None] = mapped_column(Float)
    # The variant while the experiment runs, else None: unique, so a variant runs in one
    # experiment at a time even when two start at once.
    running_variant_id: Mapped[str | None] = mapped_column(String(36))


class ExperimentWeights(Base):
    """The traffic shares an experiment served from `computed_at` on (its weights over time)."""

    __tablename__ = "experiment_weights"
    __table_args__ = (Index("ix_experiment_weights_at", "experiment_id", "computed_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"))
    segment: Mapped[str | None] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    impressions: Mapped[int] = mapped_column(Integer)
    weights_json: Mapped[list[Any]]
    p_best_json: Mapped[list[Any]]


class ScoreModel(Base):
    """A model of what a workspace rates well, trained on its ratings, with its quality on
    ratings it did not see; `ranks` when it beat the check score there."""

    __tablename__ = "score_model"
    __table_args__ = (UniqueConstraint("workspace_id", "version", name="uq_score_model_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rated_variants: Mapped[int] = mapped_column(Integer)
    held_out: Mapped[int] = mapped_column(Integer)
    spearman: Mapped[float | None] = mapped_column(Float)
    baseline_spearman: Mapped[float | None] = mapped_column(Float)
    click_auc: Mapped[float | None] = mapped_column(Float)
    click_variants: Mapped[int] = mapped_column(Integer)
    ranks: Mapped[bool] = mapped_column(Boolean)
    weights_json: Mapped[dict[str, Any]]
