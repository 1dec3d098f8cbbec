"""attempt model: which model made the shape in each attempt

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # earlier attempts keep NULL: which model made their shape was not recorded
    with op.batch_alter_table("output_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column("model_version", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("output_attempt", schema=None) as batch_op:
        batch_op.drop_column("model_version")
        batch_op.drop_column("model_name")
