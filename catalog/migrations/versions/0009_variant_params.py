"""variant params: a variant's complete generation parameters, stored once, so that a preset changed in a later release
does not change a variant made before it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

Variants made before this keep ``params`` NULL until first read: the reader (``assets.variants.variant_params``)
resolves them once with the presets of the release that reads them, the ones they were made under, and stores the
result. The catalog cannot resolve them here: it never imports the generation parameters (DESIGN, dependency arrows).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("variant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("variant", schema=None) as batch_op:
        batch_op.drop_column("params")
