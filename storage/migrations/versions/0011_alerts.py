"""Alerts on a widget's number, their checks and their deliveries (issue 17).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("dashboard_id", sa.Integer),
        sa.Column("widget_id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.Integer),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category_json", sa.Text),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("check_json", sa.Text, nullable=False),
        sa.Column("channels_json", sa.Text, nullable=False),
        sa.Column("send_mode", sa.String(16), nullable=False),
        sa.Column("link_base", sa.String(300)),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("stop_reason", sa.Text),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_value", sa.Float),
        sa.Column("last_checked_at", sa.DateTime(timezone=True)),
        sa.Column("next_check_at", sa.DateTime(timezone=True)),
        sa.Column("checked_version", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE",
                                name="fk_alerts_workspace_id_workspaces"),
        sa.ForeignKeyConstraint(["dashboard_id"], ["dashboards.id"], ondelete="SET NULL",
                                name="fk_alerts_dashboard_id_dashboards"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="SET NULL", name="fk_alerts_owner_id_users"),
    )
    op.create_index("ix_alerts_workspace_id", "alerts", ["workspace_id"])
    op.create_index("ix_alerts_dashboard_id", "alerts", ["dashboard_id"])
    op.create_index("ix_alerts_next_check_at", "alerts", ["next_check_at"])
    op.create_table(
        "alert_checks",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("change_pct", sa.Float),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("event", sa.String(16)),
        sa.Column("error", sa.Text),
        sa.Column("message_json", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_alert_checks"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE",
                                name="fk_alert_checks_alert_id_alerts"),
    )
    op.create_index("ix_alert_checks_alert_id", "alert_checks", ["alert_id"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("check_id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("retry_at", sa.DateTime(timezone=True)),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_deliveries"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE",
                                name="fk_alert_deliveries_alert_id_alerts"),
        sa.ForeignKeyConstraint(["check_id"], ["alert_checks.id"], ondelete="CASCADE",
                                name="fk_alert_deliveries_check_id_alert_checks"),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])
    op.create_index("ix_alert_deliveries_status", "alert_deliveries", ["status"])


def downgrade() -> None:
    op.drop_table("alert_deliveries")
    op.drop_table("alert_checks")
    op.drop_table("alerts")
