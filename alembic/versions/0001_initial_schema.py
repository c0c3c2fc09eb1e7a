"""initial schema: generation, variant, rating

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations keep their own frozen column types; they never import app.models.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "generation",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("input_json", sa.JSON(), nullable=False),
        sa.Column("brand_id", sa.String(64), nullable=True),
        sa.Column("template_name", sa.String(200), nullable=False),
        sa.Column("template_version", sa.String(64), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("model_alias", sa.String(100), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("resolved_model", sa.String(200), nullable=True),
        sa.Column("options_json", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_type", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "status IN ('succeeded', 'partial', 'failed')", name="ck_generation_status"
        ),
        sa.UniqueConstraint(
            "workspace_id", "idempotency_key", name="uq_generation_idempotency"
        ),
    )
    op.create_index(
        "ix_generation_ws_created", "generation", ["workspace_id", "created_at", "id"]
    )
    op.create_index(
        "ix_generation_ws_kind_created", "generation", ["workspace_id", "kind", "created_at"]
    )
    op.create_index(
        "ix_generation_ws_updated", "generation", ["workspace_id", "updated_at", "id"]
    )

    op.create_table(
        "variant",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "generation_id",
            sa.String(36),
            sa.ForeignKey("generation.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("checks_json", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("generation_id", "index", name="uq_variant_index"),
    )
    op.create_index("ix_variant_generation_id", "variant", ["generation_id"])

    op.create_table(
        "rating",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "variant_id",
            sa.String(36),
            sa.ForeignKey("variant.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("rater", sa.String(200), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="ck_rating_score"),
        sa.UniqueConstraint("variant_id", "rater", name="uq_rating_variant_rater"),
    )


def downgrade() -> None:
    op.drop_table("rating")
    op.drop_index("ix_variant_generation_id", table_name="variant")
    op.drop_table("variant")
    op.drop_index("ix_generation_ws_updated", table_name="generation")
    op.drop_index("ix_generation_ws_kind_created", table_name="generation")
    op.drop_index("ix_generation_ws_created", table_name="generation")
    op.drop_table("generation")
