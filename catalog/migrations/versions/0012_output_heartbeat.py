"""output heartbeat: a running output is claimed by the run making it, which says it is still at work every few
seconds, so that a second convert of the same object and variant waits for it instead of making it again

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

Outputs left running before this have no heartbeat: they count as left by a process that stopped.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("output") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("output") as batch:
        batch.drop_column("heartbeat_at")
