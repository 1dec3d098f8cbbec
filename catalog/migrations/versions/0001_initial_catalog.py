"""initial catalog

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('collection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('source_image',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('source_format', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('byte_size', sa.BigInteger(), nullable=False),
    sa.Column('blob_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('content_hash')
    )
    op.create_table('tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('variant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('backend', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('preset', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('steps', sa.Integer(), nullable=True),
    sa.Column('guidance', sa.Float(), nullable=True),
    sa.Column('target_faces', sa.Integer(), nullable=True),
    sa.Column('seed', sa.Integer(), nullable=True),
    sa.Column('texture_size', sa.Integer(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('output',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_image_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('model_name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('model_version', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('face_count', sa.Integer(), nullable=True),
    sa.Column('vertex_count', sa.Integer(), nullable=True),
    sa.Column('byte_size', sa.BigInteger(), nullable=True),
    sa.Column('glb_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('obj_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('preview_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.Column('dagster_run_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['source_image_id'], ['source_image.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('output', schema=None) as batch_op:
        batch_op.create_index('ix_output_variant_status', ['variant_id', 'status'], unique=False)
        batch_op.create_index('uq_output_source_variant', ['source_image_id', 'variant_id'], unique=True)

    op.create_table('collection_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collection_id', sa.Integer(), nullable=False),
    sa.Column('source_image_id', sa.Integer(), nullable=False),
    sa.Column('output_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['collection_id'], ['collection.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['output_id'], ['output.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_image_id'], ['source_image.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('collection_member', schema=None) as batch_op:
        batch_op.create_index('ix_collection_member_label_source', ['collection_id', 'source_image_id'], unique=False)
        batch_op.create_index('ix_collection_member_source', ['source_image_id'], unique=False)
        batch_op.create_index('uq_collection_member_on_image', ['collection_id', 'source_image_id'], unique=True, sqlite_where=sa.text('output_id IS NULL'), postgresql_where=sa.text('output_id IS NULL'))
        batch_op.create_index('uq_collection_member_on_output', ['collection_id', 'output_id'], unique=True, sqlite_where=sa.text('output_id IS NOT NULL'), postgresql_where=sa.text('output_id IS NOT NULL'))

    op.create_table('image_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('source_image_id', sa.Integer(), nullable=False),
    sa.Column('output_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['output_id'], ['output.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_image_id'], ['source_image.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('image_tag', schema=None) as batch_op:
        batch_op.create_index('ix_image_tag_label_source', ['tag_id', 'source_image_id'], unique=False)
        batch_op.create_index('ix_image_tag_source', ['source_image_id'], unique=False)
        batch_op.create_index('uq_image_tag_on_image', ['tag_id', 'source_image_id'], unique=True, sqlite_where=sa.text('output_id IS NULL'), postgresql_where=sa.text('output_id IS NULL'))
        batch_op.create_index('uq_image_tag_on_output', ['tag_id', 'output_id'], unique=True, sqlite_where=sa.text('output_id IS NOT NULL'), postgresql_where=sa.text('output_id IS NOT NULL'))



def downgrade() -> None:
    with op.batch_alter_table('image_tag', schema=None) as batch_op:
        batch_op.drop_index('uq_image_tag_on_output', sqlite_where=sa.text('output_id IS NOT NULL'), postgresql_where=sa.text('output_id IS NOT NULL'))
        batch_op.drop_index('uq_image_tag_on_image', sqlite_where=sa.text('output_id IS NULL'), postgresql_where=sa.text('output_id IS NULL'))
        batch_op.drop_index('ix_image_tag_source')
        batch_op.drop_index('ix_image_tag_label_source')

    op.drop_table('image_tag')
    with op.batch_alter_table('collection_member', schema=None) as batch_op:
        batch_op.drop_index('uq_collection_member_on_output', sqlite_where=sa.text('output_id IS NOT NULL'), postgresql_where=sa.text('output_id IS NOT NULL'))
        batch_op.drop_index('uq_collection_member_on_image', sqlite_where=sa.text('output_id IS NULL'), postgresql_where=sa.text('output_id IS NULL'))
        batch_op.drop_index('ix_collection_member_source')
        batch_op.drop_index('ix_collection_member_label_source')

    op.drop_table('collection_member')
    with op.batch_alter_table('output', schema=None) as batch_op:
        batch_op.drop_index('uq_output_source_variant')
        batch_op.drop_index('ix_output_variant_status')

    op.drop_table('output')
    op.drop_table('variant')
    op.drop_table('tag')
    op.drop_table('source_image')
    op.drop_table('collection')
