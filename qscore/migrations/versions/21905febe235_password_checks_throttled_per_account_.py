"""password checks throttled per account and address; usernames kept as keyed hashes

Every password check (login, password change, the approvals' re-entry) goes through
qscore/throttle.py: failures are counted per (account, address) pair and per address, never per
account alone. The typed username is no longer kept in clear: a keyed hash (HMAC with SECRET_KEY)
and whether it named an account. Old rows cannot be hashed here and hold raw usernames, so they go:
throttling state is short-lived (the longest wait is 15 minutes), nothing else reads it.

Revision ID: 21905febe235
Revises: 0b511404bd37
Create Date: 2026-12-07 04:44:14.886546

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '21905febe235'
down_revision = '0b511404bd37'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(sa.text("DELETE FROM login_attempt"))
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False))
        batch_op.add_column(sa.Column('account_hash', sa.String(length=64), nullable=False))
        batch_op.add_column(sa.Column('account_known', sa.Boolean(), nullable=False))
        batch_op.drop_index(batch_op.f('ix_login_attempt_ip'))
        batch_op.drop_index(batch_op.f('ix_login_attempt_username'))
        batch_op.create_index('ix_login_attempt_ip_at', ['ip', 'at'], unique=False)
        batch_op.create_index('ix_login_attempt_pair', ['account_hash', 'ip', 'at'], unique=False)
        batch_op.drop_column('username')


def downgrade():
    op.execute(sa.text("DELETE FROM login_attempt"))
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username', sa.VARCHAR(length=64), nullable=False))
        batch_op.drop_index('ix_login_attempt_pair')
        batch_op.drop_index('ix_login_attempt_ip_at')
        batch_op.create_index(batch_op.f('ix_login_attempt_username'), ['username'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempt_ip'), ['ip'], unique=False)
        batch_op.drop_column('account_known')
        batch_op.drop_column('account_hash')
        batch_op.drop_column('kind')
