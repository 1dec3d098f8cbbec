"""output levels of detail and quads: the faces of each further LOD, and the quad count of a quad retopology

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("output", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lod_face_counts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("quad_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("output", schema=None) as batch_op:
        batch_op.drop_column("quad_count")
        batch_op.drop_column("lod_face_counts")
