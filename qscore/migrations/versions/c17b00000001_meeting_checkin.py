"""meeting sign-in at the door: meetings open for sign-in, and the sign-ins

Revision ID: c17b00000001
Revises: c17a00000002
Create Date: 2026-12-07 23:27:43

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c17b00000001'
down_revision = 'c17a00000002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('checkin_meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('indicator_code', sa.String(length=8), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('opens_at', sa.DateTime(), nullable=False),
    sa.Column('closes_at', sa.DateTime(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('tablet_token', sa.String(length=32), nullable=False),
    sa.Column('code_secret', sa.String(length=32), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_checkin_meeting_branch_id_branch')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_checkin_meeting_closed_by_id_user')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_checkin_meeting_meeting_id_meeting')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['user.id'], name=op.f('fk_checkin_meeting_opened_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_meeting')),
    sa.UniqueConstraint('meeting_id', name=op.f('uq_checkin_meeting_meeting_id')),
    sa.UniqueConstraint('tablet_token', name=op.f('uq_checkin_meeting_tablet_token')),
    sa.UniqueConstraint('token', name=op.f('uq_checkin_meeting_token'))
    )
    with op.batch_alter_table('checkin_meeting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_meeting_branch_id'), ['branch_id'], unique=False)

    op.create_table('checkin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkin_meeting_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('way', sa.String(length=8), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_checkin_by_id_user')),
    sa.ForeignKeyConstraint(['checkin_meeting_id'], ['checkin_meeting.id'], name=op.f('fk_checkin_checkin_meeting_id_checkin_meeting')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_checkin_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin')),
    sa.UniqueConstraint('checkin_meeting_id', 'member_id', name='uq_checkin_meeting_member')
    )
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_checkin_meeting_id'), ['checkin_meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkin_member_id'), ['member_id'], unique=False)



def downgrade():
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_member_id'))
        batch_op.drop_index(batch_op.f('ix_checkin_checkin_meeting_id'))

    op.drop_table('checkin')
    with op.batch_alter_table('checkin_meeting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_meeting_branch_id'))

    op.drop_table('checkin_meeting')
