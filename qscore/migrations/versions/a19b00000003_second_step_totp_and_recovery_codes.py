"""a second step for logging in: TOTP secrets and one-time recovery codes

Each account may hold a sealed TOTP secret (RFC 6238), the last time-step whose code it accepted
(no code works twice) and when it was set up; recovery_code holds the printed one-time codes as
salted hashes (qscore/second_step). Existing accounts have no second step: a street administrator
is asked to set one up at the next login (SECOND_STEP_REQUIRED_ROLES).

Revision ID: a19b00000003
Revises: a19b00000002
Create Date: 2026-12-07 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a19b00000003'
down_revision = 'a19b00000002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('totp_enrolled_at', sa.DateTime(), nullable=True))

    op.create_table(
        'recovery_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=256), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_recovery_code_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_code')),
    )
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_code_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_code_user_id'))
    op.drop_table('recovery_code')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('totp_enrolled_at')
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_secret')
