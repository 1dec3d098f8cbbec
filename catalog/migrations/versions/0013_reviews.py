"""reviews: an art lead approves or rejects an output, or asks for it again, and the catalog records who and when;
the output keeps its latest approval or rejection for filtering ("approved in collection X")

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Outputs made before this are unreviewed (``review`` NULL).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("output_id", sa.Integer(), sa.ForeignKey("output.id", ondelete="CASCADE"), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reviewer", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("variant", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_output", "review", ["output_id"])
    with op.batch_alter_table("output") as batch:
        batch.add_column(sa.Column("review", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("output") as batch:
        batch.drop_column("review")
    op.drop_index("ix_review_output", table_name="review")
    op.drop_table("review")
