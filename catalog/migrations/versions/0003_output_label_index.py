"""output label index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('collection_member', schema=None) as batch_op:
        batch_op.create_index('ix_collection_member_output', ['output_id'], unique=False, sqlite_where=sa.text('output_id IS NOT NULL'), postgresql_where=sa.text('output_id IS NOT NULL'))

    with op.batch_alter_table('image_tag', schema=None) as batch_op:
        batch_op.create_index('ix_image_tag_output', ['output_id'], unique=False, sqlite_where=sa.text('output_id IS NOT NULL'), postgresql_where=sa.text('output_id IS NOT NULL'))



def downgrade() -> None:
    with op.batch_alter_table('image_tag', schema=None) as batch_op:
        batch_op.drop_index('ix_image_tag_output', sqlite_where=sa.text('output_id IS NOT NULL'), postgresql_where=sa.text('output_id IS NOT NULL'))

    with op.batch_alter_table('collection_member', schema=None) as batch_op:
        batch_op.drop_index('ix_collection_member_output', sqlite_where=sa.text('output_id IS NOT NULL'), postgresql_where=sa.text('output_id IS NOT NULL'))

