"""Report schedules and their runs; share links that may download reports.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dashboard_shares") as batch:
        batch.add_column(sa.Column("allow_export", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("dashboard_id", sa.Integer),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.Integer),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("days_json", sa.Text, nullable=False),
        sa.Column("time_of_day", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("recipients_json", sa.Text, nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("paper", sa.String(8), nullable=False),
        sa.Column("orientation", sa.String(16), nullable=False),
        sa.Column("filters_json", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("stop_reason", sa.Text),
        sa.Column("next_run_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
        sa.ForeignKeyConstraint(["dashboard_id"], ["dashboards.id"], ondelete="SET NULL",
                                name="fk_schedules_dashboard_id_dashboards"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE",
                                name="fk_schedules_workspace_id_workspaces"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="SET NULL", name="fk_schedules_owner_id_users"),
    )
    op.create_index("ix_schedules_dashboard_id", "schedules", ["dashboard_id"])
    op.create_index("ix_schedules_workspace_id", "schedules", ["workspace_id"])
    op.create_index("ix_schedules_next_run_at", "schedules", ["next_run_at"])
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("schedule_id", sa.Integer, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("retry_at", sa.DateTime(timezone=True)),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("pages", sa.Integer),
        sa.Column("size_bytes", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_schedule_runs"),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], ondelete="CASCADE",
                                name="fk_schedule_runs_schedule_id_schedules"),
    )
    op.create_index("ix_schedule_runs_schedule_id", "schedule_runs", ["schedule_id"])


def downgrade() -> None:
    op.drop_table("schedule_runs")
    op.drop_table("schedules")
    with op.batch_alter_table("dashboard_shares") as batch:
        batch.drop_column("allow_export")
