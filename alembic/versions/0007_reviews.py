"""reviews, their imports and analyses, and the job table the job seam keeps its state in

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("payload_json", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="ck_job_status"
        ),
    )
    op.create_index("ix_job_status", "job", ["status", "created_at"])
    op.create_table(
        "review_import",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column(
            "job_id", sa.String(36), sa.ForeignKey("job.id", ondelete="SET NULL"), nullable=True
        ),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("rows", "accepted", "duplicates", "refused", "analysed")
        ),
        sa.Column("errors_json", sa.JSON(), nullable=False),
        sa.Column("errors_truncated", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_review_import_ws_created", "review_import", ["workspace_id", "created_at"])
    op.create_table(
        "review",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column(
            "import_id",
            sa.String(36),
            sa.ForeignKey("review_import.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "product_id",
            sa.String(36),
            sa.ForeignKey("product.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("author_hash", sa.String(64), nullable=True),
        sa.Column("reviewed_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("workspace_id", "source", "external_id", name="uq_review_external"),
        sa.UniqueConstraint("workspace_id", "content_hash", name="uq_review_content"),
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name="ck_review_stars"),
    )
    op.create_index(
        "ix_review_ws_product_at", "review", ["workspace_id", "product_id", "reviewed_at"]
    )
    op.create_index("ix_review_import", "review", ["import_id"])
    op.create_table(
        "review_analysis",
        sa.Column(
            "review_id",
            sa.String(36),
            sa.ForeignKey("review.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("analyser", sa.String(64), primary_key=True),
        sa.Column("analyser_version", sa.String(200), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("sentiment", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("aspects_json", sa.JSON(), nullable=False),
        sa.Column("keywords_json", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_review_analysis_ws", "review_analysis", ["workspace_id", "analyser"])


def downgrade() -> None:
    op.drop_table("review_analysis")
    op.drop_table("review")
    op.drop_table("review_import")
    op.drop_table("job")
