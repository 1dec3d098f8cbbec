"""output format keys: the blob of each further export format an output is written as (FBX, USDZ, …)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("output", schema=None) as batch_op:
        batch_op.add_column(sa.Column("format_keys", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("output", schema=None) as batch_op:
        batch_op.drop_column("format_keys")
