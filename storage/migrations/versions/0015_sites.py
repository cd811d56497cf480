"""Sites that send events, the daily salt of visitor ids, and dropped-event counts
(issue 13).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("dataset_id", sa.Integer),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("retention_days", sa.Integer, nullable=False),
        sa.Column("excluded_networks_json", sa.Text, nullable=False),
        sa.Column("created_by", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("compact_claimed_until", sa.DateTime(timezone=True)),
        sa.Column("compact_claim", sa.String(32)),
        sa.Column("retention_done_on", sa.String(10)),
        sa.Column("published_state", sa.String(64)),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
        sa.UniqueConstraint("key", name="uq_sites_key"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE",
                                name="fk_sites_workspace_id_workspaces"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="SET NULL",
                                name="fk_sites_dataset_id_datasets"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_sites_created_by_users"),
        # A deleted site's id is never given again (its late events must not reach a new site).
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sites_workspace_id", "sites", ["workspace_id"])
    op.create_index("ix_sites_dataset_id", "sites", ["dataset_id"])
    op.create_table(
        "event_salts",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_event_salts"),
    )
    op.create_table(
        "site_drops",
        sa.Column("site_id", sa.Integer, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("site_id", "day", "reason", name="pk_site_drops"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE", name="fk_site_drops_site_id_sites"),
    )


def downgrade() -> None:
    op.drop_table("site_drops")
    op.drop_table("event_salts")
    op.drop_index("ix_sites_dataset_id", table_name="sites")
    op.drop_index("ix_sites_workspace_id", table_name="sites")
    op.drop_table("sites")
