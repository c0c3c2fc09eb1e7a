"""brand kits with versions, products, audiences; generations record which they used

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _lifecycle() -> list[sa.Column[object]]:
    return [
        sa.Column("archived_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "brand",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_lifecycle(),
    )
    op.create_index("ix_brand_ws_id", "brand", ["workspace_id", "id"])
    op.create_table(
        "brand_version",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "brand_id", sa.String(36), sa.ForeignKey("brand.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kit_json", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("brand_id", "version", name="uq_brand_version"),
    )
    op.create_table(
        "product",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("brand_id", sa.String(36), sa.ForeignKey("brand.id"), nullable=True),
        sa.Column("sku", sa.String(100), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("facts_json", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        *_lifecycle(),
        sa.UniqueConstraint("workspace_id", "sku", name="uq_product_sku"),
    )
    op.create_index("ix_product_ws_id", "product", ["workspace_id", "id"])
    op.create_table(
        "audience",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("profile_json", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        *_lifecycle(),
    )
    op.create_index("ix_audience_ws_id", "audience", ["workspace_id", "id"])
    with op.batch_alter_table("generation") as batch:
        batch.add_column(sa.Column("brand_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("product_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("audience_id", sa.String(36), nullable=True))
        batch.create_index("ix_generation_product_id", ["product_id"])
        batch.create_index("ix_generation_audience_id", ["audience_id"])


def downgrade() -> None:
    with op.batch_alter_table("generation") as batch:
        batch.drop_index("ix_generation_audience_id")
        batch.drop_index("ix_generation_product_id")
        batch.drop_column("audience_id")
        batch.drop_column("product_id")
        batch.drop_column("brand_version")
    op.drop_index("ix_audience_ws_id", table_name="audience")
    op.drop_table("audience")
    op.drop_index("ix_product_ws_id", table_name="product")
    op.drop_table("product")
    op.drop_table("brand_version")
    op.drop_index("ix_brand_ws_id", table_name="brand")
    op.drop_table("brand")
