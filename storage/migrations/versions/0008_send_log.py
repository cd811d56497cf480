"""The mail log (one row per attempt to mail a report, and the count the hourly send
limits read), the workspace's allowed recipient domains, and a run's note of skipped
recipients.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("allowed_recipient_domains", sa.Text, nullable=False, server_default="[]"))
    with op.batch_alter_table("schedule_runs") as batch:
        batch.add_column(sa.Column("note", sa.Text))
    op.create_table(
        "send_log",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("dashboard_id", sa.Integer),
        sa.Column("schedule_id", sa.Integer),
        sa.Column("schedule_name", sa.String(200), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.Integer),
        sa.Column("sent_as", sa.Integer),
        sa.Column("recipients_json", sa.Text, nullable=False),
        sa.Column("skipped_json", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_send_log"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE",
                                name="fk_send_log_workspace_id_workspaces"),
        sa.ForeignKeyConstraint(["dashboard_id"], ["dashboards.id"], ondelete="SET NULL",
                                name="fk_send_log_dashboard_id_dashboards"),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], ondelete="SET NULL",
                                name="fk_send_log_schedule_id_schedules"),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_send_log_requested_by_users"),
        sa.ForeignKeyConstraint(["sent_as"], ["users.id"], ondelete="SET NULL", name="fk_send_log_sent_as_users"),
    )
    for column in ("workspace_id", "dashboard_id", "requested_by", "sent_as", "created_at"):
        op.create_index(f"ix_send_log_{column}", "send_log", [column])


def downgrade() -> None:
    op.drop_table("send_log")
    with op.batch_alter_table("schedule_runs") as batch:
        batch.drop_column("note")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("allowed_recipient_domains")
