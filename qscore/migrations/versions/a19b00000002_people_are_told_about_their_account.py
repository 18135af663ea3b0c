"""people are told about their account: browsers of logins, and notices of changes to the way in

Each login keeps what the browser says of itself (cut to 200 characters, no control characters) for
"my sign-ins", and whether it only continued an earlier login (a password change renews the session).
A change to how someone signs in (password changed or reset, two-step verification) is an
account_event, shown to its holder until acknowledged (qscore/account_events.py). Existing logins
get an empty browser and count as real logins.

Revision ID: a19b00000002
Revises: a19b00000001
Create Date: 2026-12-07 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a19b00000002'
down_revision = 'a19b00000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_agent', sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('renewed', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.alter_column('user_agent', server_default=None)
        batch_op.alter_column('renewed', server_default=None)

    op.create_table(
        'account_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('by_user_id', sa.Integer(), nullable=True),
        sa.Column('by_name', sa.String(length=100), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=True),
        sa.Column('ip', sa.String(length=64), nullable=False),
        sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['by_user_id'], ['user.id'], name=op.f('fk_account_event_by_user_id_user')),
        sa.ForeignKeyConstraint(['session_id'], ['user_session.id'], name=op.f('fk_account_event_session_id_user_session')),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_account_event_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_event')),
    )
    with op.batch_alter_table('account_event', schema=None) as batch_op:
        batch_op.create_index('ix_account_event_user_at', ['user_id', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('account_event', schema=None) as batch_op:
        batch_op.drop_index('ix_account_event_user_at')
    op.drop_table('account_event')
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_column('renewed')
        batch_op.drop_column('user_agent')
