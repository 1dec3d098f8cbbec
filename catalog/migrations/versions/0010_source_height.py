"""source height: an object's real height in metres, said when it was ingested (an ingest option or its sidecar's
``height_m``), so a chest comes out 0.8 m tall and a tree 5 m under one variant

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Objects ingested before this have none (NULL): their outputs take their variant's height, as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_image", schema=None) as batch_op:
        batch_op.add_column(sa.Column("height_m", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_image", schema=None) as batch_op:
        batch_op.drop_column("height_m")
