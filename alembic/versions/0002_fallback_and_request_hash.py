"""generation.fallback_alias and generation.request_hash

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation") as batch:
        # Which alias answered when the requested one failed; what an idempotent replay must match.
        batch.add_column(sa.Column("fallback_alias", sa.String(100), nullable=True))
        batch.add_column(sa.Column("request_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation") as batch:
        batch.drop_column("request_hash")
        batch.drop_column("fallback_alias")
