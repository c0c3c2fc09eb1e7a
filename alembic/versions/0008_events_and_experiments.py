"""engagement events with their daily counters per variant, and experiments

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _variant_fk(name: str, **kwargs: Any) -> sa.Column[str]:
    return sa.Column(
        name, sa.String(36), sa.ForeignKey("variant.id", ondelete="CASCADE"), **kwargs
    )


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        _variant_fk("variant_id", nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("unit_id", sa.String(200), nullable=True),
        sa.Column("segment", sa.String(64), nullable=True),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("workspace_id", "event_id", name="uq_event_client_id"),
    )
    op.create_index("ix_event_variant_at", "event", ["variant_id", "occurred_at"])
    op.create_table(
        "variant_day",
        _variant_fk("variant_id", primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("type", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
    )
    op.create_index("ix_variant_day_ws_day", "variant_day", ["workspace_id", "day"])
    op.create_table(
        "experiment",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("goal", sa.String(16), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("burn_in", sa.Integer(), nullable=False),
        sa.Column("floor", sa.Float(), nullable=False),
        sa.Column("per_segment", sa.Boolean(), nullable=False),
        sa.Column("refresh_events", sa.Integer(), nullable=False),
        sa.Column("refresh_seconds", sa.Float(), nullable=False),
        sa.Column("min_p_best", sa.Float(), nullable=False),
        sa.Column("max_loss", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("winner_variant_id", sa.String(36), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=True),
        sa.Column("stopped_at", UTC_DATETIME, nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'running', 'stopped')", name="ck_experiment_status"
        ),
    )
    op.create_index("ix_experiment_ws_created", "experiment", ["workspace_id", "created_at"])
    op.create_table(
        "experiment_arm",
        sa.Column(
            "experiment_id",
            sa.String(36),
            sa.ForeignKey("experiment.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _variant_fk("variant_id", primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("split", sa.Float(), nullable=True),
        # The variant while its experiment runs, else NULL: unique, so a variant runs in
        # one experiment at a time even when two start at once (NULLs never collide).
        sa.Column("running_variant_id", sa.String(36), nullable=True),
        sa.UniqueConstraint("running_variant_id", name="uq_experiment_arm_running"),
    )
    op.create_table(
        "experiment_weights",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.String(36),
            sa.ForeignKey("experiment.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("segment", sa.String(64), nullable=True),
        sa.Column("computed_at", UTC_DATETIME, nullable=False),
        sa.Column("impressions", sa.Integer(), nullable=False),
        sa.Column("weights_json", sa.JSON(), nullable=False),
        sa.Column("p_best_json", sa.JSON(), nullable=False),
    )
    op.create_index(
        "ix_experiment_weights_at", "experiment_weights", ["experiment_id", "computed_at"]
    )


def downgrade() -> None:
    op.drop_table("experiment_weights")
    op.drop_table("experiment_arm")
    op.drop_table("experiment")
    op.drop_table("variant_day")
    op.drop_table("event")
