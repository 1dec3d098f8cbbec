"""blob digests: the size and sha256 of every blob the catalog refers to, recorded when it is written, so that
``catalog check`` finds a file cut short or changed in the store (sizes always, contents with ``--deep``)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

Blobs written before this have no digest: ``catalog check`` compares them with nothing (a GLB's size is still
checked against its output's ``byte_size``); making an output again records its files' digests.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_digest",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("blob_digest")
