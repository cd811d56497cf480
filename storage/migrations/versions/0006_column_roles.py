"""Column roles: inferred per dataset version, and a person's corrections per dataset.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "column_roles",
        sa.Column("dataset_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("roles_json", sa.Text, nullable=False),
        sa.Column("summary_json", sa.Text, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "version", name="pk_column_roles"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE",
                                name="fk_column_roles_dataset_id_datasets"),
    )
    op.create_table(
        "column_role_overrides",
        sa.Column("dataset_id", sa.Integer, nullable=False),
        sa.Column("column_name", sa.String(300), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(32)),
        sa.Column("set_by", sa.Integer),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "column_name", name="pk_column_role_overrides"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE",
                                name="fk_column_role_overrides_dataset_id_datasets"),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_column_role_overrides_set_by_users"),
    )


def downgrade() -> None:
    op.drop_table("column_role_overrides")
    op.drop_table("column_roles")
