"""source views: a source object has one to four views, each its own stored picture

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PICTURE = ("content_hash", "filename", "width", "height", "mode", "source_format", "byte_size", "blob_key")


def upgrade() -> None:
    op.create_table(
        "source_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_image_id", sa.Integer(), nullable=False),
        sa.Column("view", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("source_format", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("blob_key", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.ForeignKeyConstraint(["source_image_id"], ["source_image.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("source_view", schema=None) as batch_op:
        batch_op.create_index("uq_source_view", ["source_image_id", "view"], unique=True)
        batch_op.create_index("ix_source_view_hash", ["content_hash"], unique=False)
    # every image catalogued so far is an object of one view, its front: the same picture, the same blob
    columns = ", ".join(_PICTURE)
    op.execute(
        f"INSERT INTO source_view (source_image_id, view, {columns}) SELECT id, 'front', {columns} FROM source_image ORDER BY id"
    )
    with op.batch_alter_table("output", schema=None) as batch_op:
        batch_op.add_column(sa.Column("views", sa.JSON(), nullable=True))
    # and every output made so far was made from that front view alone
    output = sa.table("output", sa.column("views", sa.JSON()), sa.column("glb_key", sa.String()))
    op.execute(output.update().where(output.c.glb_key.isnot(None)).values(views=["front"]))


def downgrade() -> None:
    with op.batch_alter_table("output", schema=None) as batch_op:
        batch_op.drop_column("views")
    with op.batch_alter_table("source_view", schema=None) as batch_op:
        batch_op.drop_index("ix_source_view_hash")
        batch_op.drop_index("uq_source_view")
    op.drop_table("source_view")
