"""first-time passwords expire

An administrator's first-time password (new account, reset, bulk sheet) stops working
FIRST_PASSWORD_DAYS after it is made, until its holder chooses their own (qscore/passwords.py).
Accounts still waiting for their first change when this runs get the same period from today:
a sheet printed before the upgrade would otherwise stay valid for good.

Revision ID: a19b00000001
Revises: 21905febe235
Create Date: 2026-12-07 06:30:00

"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa
from flask import current_app


# revision identifiers, used by Alembic.
revision = 'a19b00000001'
down_revision = '21905febe235'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_expires_at', sa.DateTime(), nullable=True))
    days = current_app.config.get("FIRST_PASSWORD_DAYS", 14)
    expires = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=days)
    user = sa.table('user', sa.column('must_change_password', sa.Boolean()),
                    sa.column('password_expires_at', sa.DateTime()))
    op.execute(user.update().where(user.c.must_change_password == sa.true()).values(password_expires_at=expires))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('password_expires_at')
