"""variant.fields_json: the fields of structured copy (a post's title, body and hashtags)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: the copy of the kinds written so far has no fields.
    with op.batch_alter_table("variant") as batch:
        batch.add_column(sa.Column("fields_json", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("variant") as batch:
        batch.drop_column("fields_json")
