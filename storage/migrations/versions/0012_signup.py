"""Open sign-up: whether an account's email is verified, and the single-use links that
verify an address or reset a password (issue 15, point 5).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:  # every account made so far was made by an administrator
        batch.add_column(sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.true()))
    op.create_table(
        "account_links",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_account_links"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE", name="fk_account_links_user_id_users"),
        sa.UniqueConstraint("token_hash", name="uq_account_links_token_hash"),
    )
    op.create_index("ix_account_links_user_id", "account_links", ["user_id"])


def downgrade() -> None:
    op.drop_table("account_links")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_verified")
