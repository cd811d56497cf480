"""Database connections of a workspace, the datasets synced from them, and saved SQL
queries (issue 16, points 1, 2 and 4).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("database_name", sa.String(200), nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("password_sealed", sa.Text, nullable=False),
        sa.Column("options_json", sa.Text, nullable=False),
        sa.Column("created_by", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_connections"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE",
                                name="fk_connections_workspace_id_workspaces"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_connections_created_by_users"),
    )
    op.create_index("ix_connections_workspace_id", "connections", ["workspace_id"])
    op.create_table(
        "dataset_syncs",
        sa.Column("dataset_id", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("cache_seconds", sa.Integer),
        sa.Column("connection_id", sa.Integer),
        sa.Column("source_table", sa.String(500)),
        sa.Column("source_sql", sa.Text),
        sa.Column("refresh_json", sa.Text, nullable=False),
        sa.Column("incremental_column", sa.String(200)),
        sa.Column("owner_id", sa.Integer),
        sa.Column("next_refresh_at", sa.DateTime(timezone=True)),
        sa.Column("running_job", sa.String(64)),
        sa.Column("running_since", sa.DateTime(timezone=True)),
        sa.Column("last_refresh_at", sa.DateTime(timezone=True)),
        sa.Column("last_status", sa.String(16)),
        sa.Column("last_error", sa.Text),
        sa.Column("last_rows", sa.BigInteger),
        sa.Column("notes_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", name="pk_dataset_syncs"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE",
                                name="fk_dataset_syncs_dataset_id_datasets"),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="SET NULL",
                                name="fk_dataset_syncs_connection_id_connections"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_dataset_syncs_owner_id_users"),
    )
    op.create_index("ix_dataset_syncs_connection_id", "dataset_syncs", ["connection_id"])
    op.create_index("ix_dataset_syncs_next_refresh_at", "dataset_syncs", ["next_refresh_at"])
    op.create_table(
        "saved_queries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("sql", sa.Text, nullable=False),
        sa.Column("connection_id", sa.Integer),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_saved_queries"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE",
                                name="fk_saved_queries_workspace_id_workspaces"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE", name="fk_saved_queries_owner_id_users"),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name="fk_saved_queries_connection_id_connections"),
    )
    op.create_index("ix_saved_queries_workspace_id", "saved_queries", ["workspace_id"])


def downgrade() -> None:
    op.drop_table("saved_queries")
    op.drop_table("dataset_syncs")
    op.drop_table("connections")
