"""output licences: the licence of every model that made an output

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # outputs made before keep NULL: which licences applied was not recorded
    with op.batch_alter_table("output", schema=None) as batch_op:
        batch_op.add_column(sa.Column("licences", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("output", schema=None) as batch_op:
        batch_op.drop_column("licences")
