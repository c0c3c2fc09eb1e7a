"""the learned score: variant.predicted_score, and score models with their held-out quality

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: variants written before a workspace trained a model have none.
    with op.batch_alter_table("variant") as batch:
        batch.add_column(sa.Column("predicted_score", sa.Float(), nullable=True))
    op.create_table(
        "score_model",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rated_variants", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Integer(), nullable=False),
        sa.Column("spearman", sa.Float(), nullable=True),
        sa.Column("baseline_spearman", sa.Float(), nullable=True),
        sa.Column("click_auc", sa.Float(), nullable=True),
        sa.Column("click_variants", sa.Integer(), nullable=False),
        sa.Column("ranks", sa.Boolean(), nullable=False),
        sa.Column("weights_json", sa.JSON(), nullable=False),
        sa.UniqueConstraint("workspace_id", "version", name="uq_score_model_version"),
    )


def downgrade() -> None:
    op.drop_table("score_model")
    with op.batch_alter_table("variant") as batch:
        batch.drop_column("predicted_score")
