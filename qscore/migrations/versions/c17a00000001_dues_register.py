"""dues register: monthly amounts due, register lines, closed months and the points they produced

Revision ID: c17a00000001
Revises: b16c00000002
Create Date: 2026-12-07 21:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c17a00000001'
down_revision = 'b16c00000002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'dues_rate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('monthly', sa.Numeric(precision=9, scale=2), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('set_by_id', sa.Integer(), nullable=True),
        sa.Column('set_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_dues_rate_member_id_member')),
        sa.ForeignKeyConstraint(['set_by_id'], ['user.id'], name=op.f('fk_dues_rate_set_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dues_rate')),
    )
    op.create_index('ix_dues_rate_member_from', 'dues_rate', ['member_id', 'effective_from'], unique=False)
    op.create_table(
        'dues_line',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('branch_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('month', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('amount', sa.Numeric(precision=9, scale=2), nullable=False),
        sa.Column('paid_on', sa.Date(), nullable=True),
        sa.Column('method', sa.String(length=12), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('corrects_id', sa.Integer(), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_dues_line_branch_id_branch')),
        sa.ForeignKeyConstraint(['corrects_id'], ['dues_line.id'], name=op.f('fk_dues_line_corrects_id_dues_line')),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_dues_line_member_id_member')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_dues_line_recorded_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dues_line')),
        sa.UniqueConstraint('corrects_id', name=op.f('uq_dues_line_corrects_id')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_dues_line_idempotency_key')),
    )
    op.create_index(op.f('ix_dues_line_branch_id'), 'dues_line', ['branch_id'], unique=False)
    op.create_index('ix_dues_line_member_year', 'dues_line', ['member_id', 'year', 'month'], unique=False)
    op.create_table(
        'dues_close',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('branch_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('month', sa.Integer(), nullable=False),
        sa.Column('closed_by_id', sa.Integer(), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_dues_close_branch_id_branch')),
        sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_dues_close_closed_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dues_close')),
        sa.UniqueConstraint('branch_id', 'year', 'month', name=op.f('uq_dues_close_branch_id')),
    )
    op.create_table(
        'dues_point',
        sa.Column('entry_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('indicator_code', sa.String(length=8), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('period', sa.Integer(), nullable=False),
        sa.Column('close_id', sa.Integer(), nullable=False),
        sa.Column('lines', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['close_id'], ['dues_close.id'], name=op.f('fk_dues_point_close_id_dues_close')),
        sa.ForeignKeyConstraint(['entry_id'], ['point_entry.id'], name=op.f('fk_dues_point_entry_id_point_entry')),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_dues_point_member_id_member')),
        sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_dues_point')),
        sa.UniqueConstraint('member_id', 'indicator_code', 'year', 'period', name=op.f('uq_dues_point_member_id')),
    )
    op.create_index(op.f('ix_dues_point_close_id'), 'dues_point', ['close_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_dues_point_close_id'), table_name='dues_point')
    op.drop_table('dues_point')
    op.drop_table('dues_close')
    op.drop_index('ix_dues_line_member_year', table_name='dues_line')
    op.drop_index(op.f('ix_dues_line_branch_id'), table_name='dues_line')
    op.drop_table('dues_line')
    op.drop_index('ix_dues_rate_member_from', table_name='dues_rate')
    op.drop_table('dues_rate')
